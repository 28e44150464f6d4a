/**
 * Drivers: where the motion comes from. Each yields one frame at a time (landmarks in pixels of
 * the model's R x R frame, and the driver's own crop where there is one), so memory does not grow
 * with the driver's length.
 *
 * - a video (any format ffmpeg reads): faces tracked and cropped as in preprocessing;
 * - a dataset video (`--driver DATASET --driver-video N`);
 * - a landmark track, JSON: `{"size": S, "fps": F, "frames": [[[x, y] x 68] x frames]}` with points
 *   in pixels of an S x S frame (S defaults to the model's resolution; a bare array of frames also
 *   works);
 * - a photo: its landmarks, one still frame.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DEFAULT_CROP } from '../faces/crop.js';
import { Dataset } from '../data/dataset.js';
import { InputError } from '../core/errors.js';
import { WorkerFaceDetector } from '../faces/detect.js';
import { prefetch } from '../data/prefetch.js';
import { LANDMARK_VALUES, NUM_LANDMARKS } from '../faces/landmarks.js';
import { trackFaces } from '../data/preprocess.js';
import { PHOTO_EXTENSIONS, VIDEO_EXTENSIONS } from '../data/inputs.js';
import { decodeFrames, probe } from '../media/video.js';

export interface DriverFrame {
  index: number;
  /** 136 numbers in model pixels, or null where the driver frame has no face */
  landmarks: Float32Array | null;
  /** the driver's crop at the model's resolution (R x R x 3), when it has pictures */
  image: Uint8Array | null;
}

export interface Driver {
  kind: 'video' | 'dataset' | 'landmarks' | 'photo';
  source: string;
  fps: number;
  /** frames it will yield (an estimate for videos), for progress bars */
  expectedFrames: number;
  /** a file whose audio track an MP4 output keeps */
  audio: string | null;
  /** dataset identity (self-reenactment when it is the personalised model's) */
  identity?: string | undefined;
  frames: AsyncIterable<DriverFrame>;
}

export interface DriverOptions {
  resolution: number;
  /** with a dataset folder: which video */
  video?: number | undefined;
  /** with a dataset: start at this frame (self-reenactment from hold-out frames) */
  frames?: number[] | undefined;
}

const LandmarkFile = (raw: unknown, path: string, res: number): { frames: Float32Array[]; fps: number } => {
  const bad = (why: string): never => {
    throw new InputError(
      `Landmark track "${path}": ${why}. Expected {"size": S, "fps": F, "frames": [[[x, y] x 68] per frame]} (docs in README).`,
    );
  };
  const obj = Array.isArray(raw) ? { frames: raw } : (raw as Record<string, unknown>);
  if (!obj || !Array.isArray(obj['frames'])) bad('no "frames" array');
  const size = obj['size'] === undefined ? res : Number(obj['size']);
  if (!(size > 0)) bad('"size" must be a positive number');
  const fps = obj['fps'] === undefined ? 25 : Number(obj['fps']);
  if (!(fps > 0)) bad('"fps" must be a positive number');
  const k = res / size;
  const frames = (obj['frames'] as unknown[]).map((f, i) => {
    if (!Array.isArray(f) || f.length !== NUM_LANDMARKS)
      bad(`frame ${i} has ${Array.isArray(f) ? f.length : 'no'} points, not 68`);
    const out = new Float32Array(LANDMARK_VALUES);
    (f as unknown[]).forEach((p, j) => {
      if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && Number.isFinite(v)))
        bad(`frame ${i} point ${j} is not [x, y] with finite numbers`);
      out[2 * j] = (p as number[])[0]! * k;
      out[2 * j + 1] = (p as number[])[1]! * k;
    });
    return out;
  });
  if (frames.length === 0) bad('it has no frames');
  return { frames, fps };
};

/**
 * A video's or photo's frames, faces tracked as in preprocessing (faces/track.ts): the networks run in
 * a worker thread, beside the animation, and tracking runs up to 16 frames (two landmark batches)
 * ahead of it. Frames without a usable face (none found, or landmarks flagged) come as null.
 */
async function* tracked(path: string, res: number, still: boolean, fps: number): AsyncGenerator<DriverFrame> {
  const detector = new WorkerFaceDetector();
  try {
    const frames = decodeFrames(path, { maxSize: 1280, ...(still ? { maxFrames: 1 } : {}) });
    const o = { minConfidence: 0.5, crop: DEFAULT_CROP, resolution: res, fps };
    for await (const t of prefetch(trackFaces(frames, detector, o, !still), 16))
      yield { index: t.index, landmarks: t.landmarks, image: t.crop };
  } finally {
    await detector.close();
  }
}

/** Opens a driver: a video or photo file, a landmark JSON, or a dataset folder (with `video`). */
export function openDriver(path: string, o: DriverOptions): Driver {
  if (!existsSync(path)) throw new InputError(`Driver "${path}" does not exist`);
  const res = o.resolution;
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'manifest.json')))
      throw new InputError(
        `Driver "${path}" is a folder but not a dataset (no manifest.json). Pass a video, a photo, a landmark JSON or a dataset.`,
      );
    const ds = Dataset.open(path);
    const v = o.video ?? 0;
    const entry = ds.video(v);
    if (ds.resolution !== res)
      throw new InputError(
        `Driver dataset "${path}" is ${ds.resolution}px, the model ${res}px: make a dataset at ${res}px.`,
      );
    const which = o.frames ?? Array.from({ length: entry.frames }, (_, i) => i);
    const fps = Number(ds.manifest.info['fps'] ?? 12.5);
    return {
      kind: 'dataset',
      source: `${path}#${v}`,
      fps,
      expectedFrames: which.length,
      audio: null,
      identity: entry.identity,
      frames: (async function* () {
        for (const f of which)
          yield { index: f, landmarks: ds.frameLandmarks(v, f).slice(), image: ds.readFrames(v, f, 1) };
      })(),
    };
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new InputError(`Landmark track "${path}" is not valid JSON: ${(e as Error).message}`);
    }
    const { frames, fps } = LandmarkFile(raw, path, res);
    return {
      kind: 'landmarks',
      source: path,
      fps,
      expectedFrames: frames.length,
      audio: null,
      frames: (async function* () {
        for (let i = 0; i < frames.length; i++) yield { index: i, landmarks: frames[i]!, image: null };
      })(),
    };
  }
  if (PHOTO_EXTENSIONS.includes(ext))
    return {
      kind: 'photo',
      source: path,
      fps: 1,
      expectedFrames: 1,
      audio: null,
      frames: tracked(path, res, true, 25),
    };
  if (VIDEO_EXTENSIONS.includes(ext)) {
    const info = probe(path);
    const hasAudio = ext !== '.gif';
    const fps = Number.isFinite(info.fps) && info.fps > 0 ? info.fps : 25;
    return {
      kind: 'video',
      source: path,
      fps,
      expectedFrames: Number.isFinite(info.duration) ? Math.max(1, Math.round(info.duration * fps)) : 0,
      audio: hasAudio ? path : null,
      frames: tracked(path, res, false, fps),
    };
  }
  throw new InputError(
    `Driver "${path}": unknown kind. Pass a video (${VIDEO_EXTENSIONS.join(' ')}), a photo, a landmark JSON or a dataset folder.`,
  );
}
