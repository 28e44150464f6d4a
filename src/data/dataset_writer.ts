/**
 * Writing datasets (the format dataset.ts reads): videos appended frame by frame to temporary files
 * and renamed when complete, the manifest rewritten atomically after each, so an interrupted writer
 * leaves a valid dataset of finished videos; and merging shards into one manifest.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { withPath, writeFileAtomic } from '../io/atomic.js';
import { LANDMARK_VALUES, landmarkSet } from '../faces/landmarks.js';
import {
  Dataset,
  DATASET_FORMAT,
  DATASET_VERSION,
  DatasetError,
  frameBytes,
  heldOutIdentities,
  lmBytes,
  readManifest,
  type Manifest,
  type VideoEntry,
} from './dataset.js';

export interface WriterOptions {
  resolution: number;
  source: string;
  landmarkSource: string;
  info?: Record<string, unknown>;
}

/** An in-progress video: frames are appended to a temporary file. */
export class VideoWriter {
  private frames = 0;
  private readonly fdFrames: number;
  private readonly fdLm: number;
  private closed = false;

  constructor(
    private readonly ds: DatasetWriter,
    readonly entry: Omit<VideoEntry, 'frames'>,
    private readonly tmp: { frames: string; landmarks: string },
  ) {
    this.fdFrames = openSync(tmp.frames, 'w');
    this.fdLm = openSync(tmp.landmarks, 'w');
  }

  /** rgb: uint8 [H, W, 3] at the dataset resolution; landmarks: 136 finite numbers. */
  addFrame(rgb: Uint8Array, landmarks: ArrayLike<number>): void {
    const res = this.ds.options.resolution;
    if (rgb.length !== frameBytes(res)) {
      throw new DatasetError(
        `Video "${this.entry.id}": frame has ${rgb.length} bytes, expected ${res}x${res}x3 = ${frameBytes(res)}`,
      );
    }
    if (landmarks.length !== LANDMARK_VALUES)
      throw new DatasetError(
        `Video "${this.entry.id}": expected 136 landmark numbers, got ${landmarks.length}`,
      );
    const lm = Buffer.alloc(lmBytes);
    for (let k = 0; k < LANDMARK_VALUES; k++) {
      const x = landmarks[k]!;
      if (!Number.isFinite(x))
        throw new DatasetError(`Video "${this.entry.id}" frame ${this.frames}: landmark ${k >> 1} is ${x}`);
      lm.writeFloatLE(x, k * 4);
    }
    try {
      writeAll(this.fdFrames, rgb);
      writeAll(this.fdLm, lm);
    } catch (e) {
      throw withPath(e, this.ds.dir);
    }
    this.frames++;
  }

  get frameCount(): number {
    return this.frames;
  }

  /** Completes the video: renames its files into place and updates the manifest. */
  end(): VideoEntry {
    if (this.closed) throw new DatasetError(`Video "${this.entry.id}" already ended`);
    this.closed = true;
    closeSync(this.fdFrames);
    closeSync(this.fdLm);
    if (this.frames === 0) {
      rmSync(this.tmp.frames, { force: true });
      rmSync(this.tmp.landmarks, { force: true });
      throw new DatasetError(`Video "${this.entry.id}" has no frames`);
    }
    const entry: VideoEntry = { ...this.entry, frames: this.frames };
    this.ds.commit(entry, this.tmp);
    return entry;
  }

  /** Drops the video (e.g. too few frames). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fdFrames);
    closeSync(this.fdLm);
    rmSync(this.tmp.frames, { force: true });
    rmSync(this.tmp.landmarks, { force: true });
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Writes a dataset. With `resume`, an existing dataset in `dir` is kept and extended (its resolution
 * must match); `has(id)` tells which videos are already complete.
 */
export class DatasetWriter {
  private manifest: Manifest;

  constructor(
    readonly dir: string,
    readonly options: WriterOptions,
    resume = false,
  ) {
    mkdirSync(join(dir, 'videos'), { recursive: true });
    if (resume && existsSync(join(dir, 'manifest.json'))) {
      const m = readManifest(dir);
      if (m.resolution !== options.resolution) {
        throw new DatasetError(
          `Cannot extend dataset "${dir}": it is ${m.resolution}px, asked for ${options.resolution}px`,
        );
      }
      this.manifest = m;
    } else {
      if (existsSync(join(dir, 'manifest.json'))) {
        throw new DatasetError(`"${dir}" already holds a dataset; choose another folder or resume it`);
      }
      this.manifest = {
        format: DATASET_FORMAT,
        version: DATASET_VERSION,
        resolution: options.resolution,
        source: options.source,
        landmarkSource: options.landmarkSource,
        created: new Date().toISOString(),
        info: options.info ?? {},
        videos: [],
      };
      this.flush();
    }
  }

  has(id: string): boolean {
    return this.manifest.videos.some((v) => v.id === id);
  }

  get videos(): readonly VideoEntry[] {
    return this.manifest.videos;
  }

  /** Starts a video; its file stem is the next free index. */
  begin(id: string, identity: string, source?: string): VideoWriter {
    if (this.has(id)) throw new DatasetError(`Video "${id}" is already in dataset "${this.dir}"`);
    const used = new Set(this.manifest.videos.map((v) => v.file));
    let n = this.manifest.videos.length;
    while (used.has(String(n).padStart(6, '0'))) n++;
    const file = String(n).padStart(6, '0');
    const base = join(this.dir, 'videos', file);
    return new VideoWriter(
      this,
      { id, identity, file, ...(source ? { source } : {}) },
      { frames: `${base}.frames.tmp`, landmarks: `${base}.landmarks.tmp` },
    );
  }

  /** Called by VideoWriter.end(). */
  commit(entry: VideoEntry, tmp: { frames: string; landmarks: string }): void {
    const base = join(this.dir, 'videos', entry.file);
    renameSync(tmp.frames, `${base}.frames`);
    renameSync(tmp.landmarks, `${base}.landmarks`);
    this.manifest.videos.push(entry);
    this.flush();
  }

  /** Adds a whole video at once from contiguous buffers (used by the parallel synthetic writer). */
  addVideo(
    id: string,
    identity: string,
    frames: Uint8Array,
    landmarks: Float32Array,
    source?: string,
  ): VideoEntry {
    const n = landmarks.length / LANDMARK_VALUES;
    const v = this.begin(id, identity, source);
    const fb = frameBytes(this.options.resolution);
    if (frames.length !== n * fb) {
      v.abort();
      throw new DatasetError(`Video "${id}": ${frames.length} frame bytes for ${n} landmark sets`);
    }
    for (let f = 0; f < n; f++) v.addFrame(frames.subarray(f * fb, (f + 1) * fb), landmarkSet(landmarks, f));
    return v.end();
  }

  setInfo(info: Record<string, unknown>): void {
    this.manifest.info = { ...this.manifest.info, ...info };
    this.flush();
  }

  private flush(): void {
    writeFileAtomic(join(this.dir, 'manifest.json'), JSON.stringify(this.manifest, null, 1) + '\n');
  }
}

/**
 * Writes a dataset at `out` that reads the `parts` (dataset folders, e.g. preprocessing shards) as
 * one, without copying frames: its manifest lists every part's videos with the folder that holds
 * them. The parts must share the resolution; a video id in two parts is an error.
 */
export function mergeDatasets(out: string, parts: string[]): Dataset {
  if (parts.length === 0) throw new DatasetError('merge: no datasets given');
  const manifests = parts.map((d) => ({ dir: d, m: Dataset.open(d).manifest }));
  const res = manifests[0]!.m.resolution;
  const seen = new Map<string, string>();
  const videos: VideoEntry[] = [];
  for (const { dir, m } of manifests) {
    if (m.resolution !== res)
      throw new DatasetError(`merge: "${dir}" is ${m.resolution}px, "${parts[0]}" is ${res}px`);
    for (const v of m.videos) {
      const other = seen.get(v.id);
      if (other) throw new DatasetError(`merge: video "${v.id}" is in both "${other}" and "${dir}"`);
      seen.set(v.id, dir);
      const holder = relative(resolve(out), resolve(dir, v.dir ?? '.')) || '.';
      videos.push({ ...v, dir: holder });
    }
  }
  const held = manifests.map(({ m }) => heldOutIdentities(m)).filter((h): h is string[] => h !== null);
  mkdirSync(out, { recursive: true });
  if (existsSync(join(out, 'videos')))
    throw new DatasetError(`merge: "${out}" holds videos of its own; merge into a new folder`);
  const manifest: Manifest = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    resolution: res,
    source: `merge of ${parts.length}: ${manifests.map(({ m }) => m.source).join('; ')}`,
    landmarkSource: [...new Set(manifests.map(({ m }) => m.landmarkSource))].join('; '),
    created: new Date().toISOString(),
    info: {
      parts: parts.map((d) => relative(resolve(out), resolve(d))),
      // shards of one preprocess run record the same held-out people: keep them
      ...(held.length ? { heldOut: [...new Set(held.flat())].sort() } : {}),
    },
    videos,
  };
  writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return Dataset.open(out);
}
