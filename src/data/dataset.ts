/**
 * The dataset format: a directory with a manifest and per-video flat binary files, read by slices
 * (nanoGPT-style) so a training run never loads more than the frames it samples.
 *
 *   DIR/manifest.json                 format, resolution, source, landmark source, videos[]
 *   DIR/videos/000012.frames          uint8 RGB, [frames, H, W, 3]
 *   DIR/videos/000012.landmarks       float32 little-endian, [frames, 68, 2], pixel coordinates
 *
 * Videos are written to temporary files and renamed when complete; the manifest is rewritten
 * atomically after each video, so an interrupted writer leaves a valid dataset of finished videos.
 *
 * A merged dataset (`mergeDatasets`, `talking-heads merge`) is a manifest whose videos name the
 * folder that holds their files (`dir`, relative to it): shards preprocessed apart read as one
 * dataset without copying a frame.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../io/atomic.js';
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

const frameBytes = (res: number) => res * res * 3;
const lmBytes = NUM_LANDMARKS * 2 * 4;

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
    writeAll(this.fdFrames, rgb);
    writeAll(this.fdLm, lm);
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
