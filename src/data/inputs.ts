/**
 * What preprocessing takes in: the units under an input path (each video file is one dataset video;
 * a folder of photos is one video whose frames are its photos; a photo at the top level is a
 * one-frame video; with `photosBy: 'name'` photos are grouped by file name across folders), the
 * people held out of meta-learning, and the licence files that travel with the images.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { Rng } from '../engine/rng.js';

export const VIDEO_EXTENSIONS = [
  '.mp4',
  '.avi',
  '.mov',
  '.mkv',
  '.webm',
  '.m4v',
  '.mpg',
  '.mpeg',
  '.wmv',
  '.flv',
  '.gif',
];
export const PHOTO_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff'];

export interface Unit {
  id: string;
  identity: string;
  kind: 'video' | 'photos';
  files: string[];
}

/** Finds the videos and photo folders under `input` (or the single file it names). */
export function findUnits(input: string, photosBy: 'folder' | 'name' = 'folder'): Unit[] {
  if (!existsSync(input)) throw new Error(`Input "${input}" does not exist`);
  const ext = (f: string) => extname(f).toLowerCase();
  if (statSync(input).isFile()) {
    const stem = basename(input, extname(input));
    if (VIDEO_EXTENSIONS.includes(ext(input)))
      return [{ id: stem, identity: stem, kind: 'video', files: [input] }];
    if (PHOTO_EXTENSIONS.includes(ext(input)))
      return [{ id: stem, identity: stem, kind: 'photos', files: [input] }];
    throw new Error(
      `"${input}" is neither a video (${VIDEO_EXTENSIONS.join(' ')}) nor a photo (${PHOTO_EXTENSIONS.join(' ')})`,
    );
  }
  const units: Unit[] = [];
  const byName = new Map<string, string[]>();
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    const photos: string[] = [];
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (VIDEO_EXTENSIONS.includes(ext(e.name))) {
        const rel = relative(input, p);
        const parts = rel.split(sep);
        units.push({
          id: rel.slice(0, -extname(rel).length).split(sep).join('/'),
          identity: parts.length > 1 ? parts[0]! : basename(rel, extname(rel)),
          kind: 'video',
          files: [p],
        });
      } else if (PHOTO_EXTENSIONS.includes(ext(e.name))) photos.push(p);
    }
    if (photos.length === 0) return;
    const relDir = relative(input, dir);
    if (photosBy === 'name') {
      for (const p of photos) {
        const stem = basename(p, extname(p));
        byName.set(stem, [...(byName.get(stem) ?? []), p]);
      }
    } else if (relDir === '') {
      for (const p of photos) {
        const stem = basename(p, extname(p));
        units.push({ id: stem, identity: stem, kind: 'photos', files: [p] });
      }
    } else {
      units.push({
        id: relDir.split(sep).join('/'),
        identity: relDir.split(sep)[0]!,
        kind: 'photos',
        files: photos,
      });
    }
  };
  walk(input);
  for (const [stem, files] of byName) units.push({ id: stem, identity: stem, kind: 'photos', files });
  return units.sort((a, b) => a.id.localeCompare(b.id));
}

/** The identities to hold out of meta-learning: `count` drawn with `seed`, or the ones named. */
export function chooseHeldOut(identities: readonly string[], holdOut: number | string[], seed = 0): string[] {
  const ids = [...new Set(identities)].sort();
  if (Array.isArray(holdOut)) {
    const missing = holdOut.filter((h) => !ids.includes(h));
    if (missing.length)
      throw new Error(
        `--hold-out names ${missing.map((m) => `"${m}"`).join(', ')}, not among the identities found (${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', ...' : ''})`,
      );
    return [...holdOut].sort();
  }
  if (!Number.isInteger(holdOut) || holdOut < 0 || holdOut >= ids.length)
    throw new Error(`--hold-out ${holdOut}: needs 0 <= N < ${ids.length} (the identities found)`);
  return new Rng(seed)
    .sample(ids.length, holdOut)
    .map((i) => ids[i]!)
    .sort();
}

/** Licence files (LICENSE*) in `input`'s folder or the folder above it: the terms of the images. */
export function licenceFiles(input: string): string[] {
  const dir = existsSync(input) && statSync(input).isDirectory() ? input : dirname(input);
  for (const d of [dir, dirname(dir)]) {
    const found = readdirSync(d)
      .filter((f) => /^licen[cs]e/i.test(f))
      .map((f) => join(d, f));
    if (found.length) return found;
  }
  return [];
}
