/**
 * The dataset format: a directory with a manifest and per-video flat binary files, read by slices
 * (nanoGPT-style) so a training run never loads more than the frames it samples.
 *
 *   DIR/manifest.json                 format, resolution, source, landmark source, videos[]
 *   DIR/videos/000012.frames          uint8 RGB, [frames, H, W, 3]
 *   DIR/videos/000012.landmarks       float32 little-endian, [frames, 68, 2], pixel coordinates
 *
 * Writing is dataset_writer.ts: videos go to temporary files, renamed when complete, and the
 * manifest is rewritten atomically after each, so an interrupted writer leaves a valid dataset.
 *
 * A merged dataset (`mergeDatasets` in dataset_writer.ts, `talking-heads merge`) is a manifest whose videos name the
 * folder that holds their files (`dir`, relative to it): shards preprocessed apart read as one
 * dataset without copying a frame.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LANDMARK_VALUES, landmarkSet, NUM_LANDMARKS } from '../faces/landmarks.js';

export const DATASET_FORMAT = 'neural-talking-heads/dataset';
export const DATASET_VERSION = 1;

export class DatasetError extends Error {
  override name = 'DatasetError';
}

const VideoEntry = z.object({
  /** unique, e.g. "id00017/seq001" or "id10001/1zcIwhmdeo4/00001" */
  id: z.string().min(1),
  identity: z.string().min(1),
  frames: z.number().int().positive(),
  /** file stem under videos/ */
  file: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  /** the dataset folder holding videos/<file>.*, relative to this one (merged datasets); absent: this */
  dir: z.string().min(1).optional(),
  source: z.string().optional(),
});
export type VideoEntry = z.infer<typeof VideoEntry>;

const Manifest = z.object({
  format: z.literal(DATASET_FORMAT),
  version: z.literal(DATASET_VERSION),
  resolution: z.number().int().min(8),
  source: z.string(),
  landmarkSource: z.string(),
  created: z.string(),
  /** anything describing how the data was made (generator seed, preprocess options) */
  info: z.record(z.string(), z.unknown()).default({}),
  videos: z.array(VideoEntry),
});
export type Manifest = z.infer<typeof Manifest>;

/** Bytes of one frame at `res` px, and of one frame's landmarks (float32). */
export const frameBytes = (res: number) => res * res * 3;
export const lmBytes = NUM_LANDMARKS * 2 * 4;

export function readManifest(dir: string): Manifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new DatasetError(`"${dir}" is not a dataset: manifest.json is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DatasetError(`Dataset "${dir}": manifest.json is not valid JSON (${(e as Error).message})`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DatasetError(
      `Dataset "${dir}": manifest.json is invalid at "${issue.path.join('.')}": ${issue.message}`,
    );
  }
  const ids = new Set<string>();
  for (const v of parsed.data.videos) {
    if (ids.has(v.id)) throw new DatasetError(`Dataset "${dir}": video id "${v.id}" appears twice`);
    ids.add(v.id);
  }
  return parsed.data;
}

/**
 * The identities a dataset keeps out of meta-learning (preprocess --hold-out records them in
 * info.heldOut): evaluation's test people. Null when the dataset records none.
 */
export function heldOutIdentities(m: Manifest): string[] | null {
  const h = m.info['heldOut'];
  if (h === undefined) return null;
  const parsed = z.array(z.string()).safeParse(h);
  if (!parsed.success) throw new DatasetError('manifest.json: info.heldOut must be a list of identities');
  return parsed.data;
}

/** SHA-256 of the manifest file: identifies the data a checkpoint was trained on. */
export function manifestHash(dir: string): string {
  return createHash('sha256')
    .update(readFileSync(join(dir, 'manifest.json')))
    .digest('hex');
}

/** Read access to a dataset by slices. */
export class Dataset {
  readonly manifest: Manifest;
  readonly resolution: number;
  private readonly lmCache = new Map<number, Float32Array>();

  private constructor(
    readonly dir: string,
    manifest: Manifest,
  ) {
    this.manifest = manifest;
    this.resolution = manifest.resolution;
  }

  /** Opens and checks structure and file sizes (cheap). `validate()` also reads every landmark. */
  static open(dir: string): Dataset {
    const ds = new Dataset(dir, readManifest(dir));
    ds.manifest.videos.forEach((_, i) => ds.checkFiles(i));
    return ds;
  }

  get videos(): readonly VideoEntry[] {
    return this.manifest.videos;
  }

  get numVideos(): number {
    return this.manifest.videos.length;
  }

  video(i: number): VideoEntry {
    const v = this.manifest.videos[i];
    if (!v) throw new DatasetError(`Dataset "${this.dir}": no video ${i} (it has ${this.numVideos})`);
    return v;
  }

  private paths(i: number): { frames: string; landmarks: string } {
    const v = this.video(i);
    const base = v.dir ? join(this.dir, v.dir) : this.dir;
    return {
      frames: join(base, 'videos', `${v.file}.frames`),
      landmarks: join(base, 'videos', `${v.file}.landmarks`),
    };
  }

  private checkFiles(i: number): void {
    const v = this.video(i);
    const p = this.paths(i);
    for (const [what, path, want] of [
      ['frames', p.frames, v.frames * frameBytes(this.resolution)],
      ['landmarks', p.landmarks, v.frames * lmBytes],
    ] as const) {
      if (!existsSync(path))
        throw new DatasetError(`Dataset "${this.dir}": video "${v.id}" is missing its ${what} file ${path}`);
      const size = statSync(path).size;
      if (size !== want) {
        throw new DatasetError(
          `Dataset "${this.dir}": video "${v.id}" ${what} file is ${size} bytes, expected ${want} ` +
            `(${v.frames} frames${what === 'frames' ? ` of ${this.resolution}x${this.resolution}x3` : ' x 68 x 2 float32'})`,
        );
      }
    }
  }

  /** Landmarks of all frames of video i: [frames * 136] (cached; small). */
  landmarks(i: number): Float32Array {
    let lm = this.lmCache.get(i);
    if (!lm) {
      const buf = readFileSync(this.paths(i).landmarks);
      lm = new Float32Array(buf.byteLength / 4);
      for (let k = 0; k < lm.length; k++) lm[k] = buf.readFloatLE(k * 4);
      for (let k = 0; k < lm.length; k++) {
        if (!Number.isFinite(lm[k]!)) {
          const f = Math.floor(k / (NUM_LANDMARKS * 2));
          throw new DatasetError(
            `Dataset "${this.dir}": video "${this.video(i).id}" frame ${f} landmark ${Math.floor((k % LANDMARK_VALUES) / 2)} is ${lm[k]}`,
          );
        }
      }
      this.lmCache.set(i, lm);
    }
    return lm;
  }

  /** One frame's landmarks (136 numbers, a view). */
  frameLandmarks(i: number, frame: number): Float32Array {
    this.checkFrame(i, frame);
    return landmarkSet(this.landmarks(i), frame);
  }

  private checkFrame(i: number, frame: number): void {
    const v = this.video(i);
    if (!Number.isInteger(frame) || frame < 0 || frame >= v.frames) {
      throw new DatasetError(
        `Dataset "${this.dir}": video "${v.id}" has frames 0..${v.frames - 1}, asked for ${frame}`,
      );
    }
  }

  /** Reads frames [start, start + count) of video i: uint8 [count, H, W, 3]. */
  readFrames(i: number, start: number, count = 1, out?: Uint8Array): Uint8Array {
    this.checkFrame(i, start);
    this.checkFrame(i, start + count - 1);
    const fb = frameBytes(this.resolution);
    const buf = out ?? new Uint8Array(count * fb);
    const fd = openSync(this.paths(i).frames, 'r');
    try {
      const n = readSync(fd, buf, 0, count * fb, start * fb);
      if (n !== count * fb)
        throw new DatasetError(`Dataset "${this.dir}": short read from video "${this.video(i).id}"`);
    } finally {
      closeSync(fd);
    }
    return buf;
  }

  /** Full check: files, sizes, every landmark finite. Returns a summary line. */
  validate(): string {
    let frames = 0;
    for (let i = 0; i < this.numVideos; i++) {
      this.checkFiles(i);
      this.landmarks(i);
      frames += this.video(i).frames;
    }
    const ids = new Set(this.videos.map((v) => v.identity)).size;
    return `${this.numVideos} videos, ${ids} identities, ${frames} frames at ${this.resolution}px (${this.manifest.source}, landmarks: ${this.manifest.landmarkSource})`;
  }
}

/** What episodes read: a Dataset, or a mix of several. */
export interface VideoSource {
  readonly dir: string;
  readonly resolution: number;
  readonly videos: readonly VideoEntry[];
  readonly numVideos: number;
  video(i: number): VideoEntry;
  readFrames(i: number, start: number, count?: number, out?: Uint8Array): Uint8Array;
  frameLandmarks(i: number, frame: number): Float32Array;
  landmarks(i: number): Float32Array;
}
