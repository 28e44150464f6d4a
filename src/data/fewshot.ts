/**
 * The T frames of one person that few-shot personalisation starts from (paper sec. 3.3), from
 * photos (any images; faces found, cropped like the preprocessing pipeline does), a video (T frames
 * spread over it) or a dataset video (T frames, the rest kept as hold-out). Every failure names the
 * file and the fix.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { InputError } from '../core/errors.js';
import { DEFAULT_CROP, cropResize, landmarksInCrop, squareFor, type Square } from '../faces/crop.js';
import type { Dataset } from './dataset.js';
import { fewShotSet } from './episodes.js';
import { stackLandmarks } from '../faces/landmarks.js';
import { detectFaces, WorkerFaceDetector, type DetectedFace, type Detector } from '../faces/detect.js';
import { trackFaces } from './preprocess.js';
import { PHOTO_EXTENSIONS } from './inputs.js';
import { decodeFrames, probe } from '../media/video.js';

/** T frames of one person at the model's resolution. */
export interface FewShotFrames {
  /** T x R x R x 3 uint8 */
  rgb: Uint8Array;
  /** T x 68 x 2, in pixels of the R x R frame */
  landmarks: Float32Array;
  count: number;
  resolution: number;
  /** where they came from, for the model file */
  source: string;
  /** dataset identity, when they came from a dataset */
  identity?: string | undefined;
  /** the frames' indices in their source (dataset frames, video frames, photos) */
  indices: number[];
}

/** Which face of a photo with several: the largest, or the N-th from the left (1-based). */
export type FaceChoice = 'largest' | number;

export function parseFaceChoice(s: string): FaceChoice {
  if (s === 'largest') return 'largest';
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1)
    throw new InputError(`--face must be "largest" or a number from 1, got "${s}"`);
  return n;
}

function pick(faces: DetectedFace[], choice: FaceChoice, file: string): DetectedFace {
  if (choice === 'largest')
    return faces.reduce((a, b) => (b.box.width * b.box.height > a.box.width * a.box.height ? b : a));
  const byX = [...faces].sort((a, b) => a.box.x - b.box.x);
  const f = byX[choice - 1];
  if (!f)
    throw new InputError(
      `"${file}" has ${faces.length} face(s), so --face ${choice} does not exist. Use --face 1..${faces.length} (left to right) or --face largest.`,
    );
  return f;
}

/** T crops and their landmarks (in crop pixels) as few-shot frames. */
export function gatherFrames(
  crops: Uint8Array[],
  lms: Float32Array[],
  res: number,
  source: string,
  indices: number[],
): FewShotFrames {
  const fb = res * res * 3;
  const rgb = new Uint8Array(crops.length * fb);
  crops.forEach((c, i) => rgb.set(c, i * fb));
  return { rgb, landmarks: stackLandmarks(lms), count: crops.length, resolution: res, source, indices };
}

/**
 * One photo's face, cropped as in preprocessing (squareFor) to `resolution`, with its landmarks in
 * crop pixels and the square it was cut from; an InputError names the photo when it has no face.
 */
export async function photoFrame(
  detector: Detector,
  frame: { rgb: Uint8Array; width: number; height: number },
  resolution: number,
  name: string,
  o: { face?: FaceChoice | undefined; log?: (s: string) => void } = {},
): Promise<{ crop: Uint8Array; landmarks: Float32Array; face: DetectedFace; square: Square }> {
  const faces = await detectFaces(detector, frame.rgb, frame.width, frame.height, 0.5);
  if (faces.length === 0)
    throw new InputError(
      `No face found in "${name}". Use photos where the face is visible and at least ~80 px tall, or remove this one.`,
    );
  if (faces.length > 1 && o.face === undefined)
    o.log?.(
      `"${basename(name)}": ${faces.length} faces; using the largest (choose with --face N, 1 = leftmost)`,
    );
  const face = pick(faces, o.face ?? 'largest', name);
  const square = squareFor(face.landmarks, DEFAULT_CROP);
  return {
    crop: cropResize(frame.rgb, frame.width, frame.height, square, resolution),
    landmarks: landmarksInCrop(face.landmarks, square, resolution),
    face,
    square,
  };
}

/** Photos of one person (a folder of images, or one image): every photo must show a face. */
export async function framesFromPhotos(
  path: string,
  resolution: number,
  o: { face?: FaceChoice | undefined; max?: number | undefined; log?: (s: string) => void } = {},
): Promise<FewShotFrames> {
  if (!existsSync(path)) throw new InputError(`Photos "${path}" do not exist`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => PHOTO_EXTENSIONS.includes(extname(f).toLowerCase()))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (files.length === 0)
    throw new InputError(
      `"${path}" holds no photos (${PHOTO_EXTENSIONS.join(' ')}). Put the person's photos in it.`,
    );
  const use = o.max ? files.slice(0, o.max) : files;
  const detector = new WorkerFaceDetector();
  const crops: Uint8Array[] = [];
  const lms: Float32Array[] = [];
  try {
    for (const f of use) {
      let frame;
      try {
        for await (const fr of decodeFrames(f, { maxFrames: 1, maxSize: 1280 })) frame = fr;
      } catch (e) {
        throw new InputError(
          `Cannot read photo "${f}": ${(e as Error).message}. Remove it or convert it to JPEG/PNG.`,
        );
      }
      const { crop, landmarks } = await photoFrame(detector, frame!, resolution, f, o);
      crops.push(crop);
      lms.push(landmarks);
    }
  } finally {
    await detector.close();
  }
  return gatherFrames(
    crops,
    lms,
    resolution,
    path,
    use.map((_, i) => i),
  );
}

/** T frames spread evenly over a video (faces tracked as in preprocessing). */
export async function framesFromVideo(path: string, resolution: number, t: number): Promise<FewShotFrames> {
  const info = probe(path);
  // Sample at most ~4 t frames (a rate that spreads them over the whole clip), then pick t evenly.
  const fps =
    Number.isFinite(info.duration) && info.duration > 0 ? Math.max(0.2, (4 * t) / info.duration) : undefined;
  const detector = new WorkerFaceDetector();
  const crops: Uint8Array[] = [];
  const lms: Float32Array[] = [];
  const idx: number[] = [];
  try {
    for await (const f of trackFaces(
      decodeFrames(path, { fps, maxSize: 1280 }),
      detector,
      // the sampling rate sets how often the tracker detects (sparse samples: every one)
      { minConfidence: 0.5, crop: DEFAULT_CROP, resolution, fps: fps ?? info.fps },
      true,
    )) {
      if (!f.crop) continue;
      crops.push(f.crop);
      lms.push(f.landmarks);
      idx.push(f.index);
    }
  } finally {
    await detector.close();
  }
  if (crops.length < t)
    throw new InputError(
      `"${path}" has ${crops.length} sampled frame(s) with a face, fewer than -T ${t}. Use a smaller -T or a longer video.`,
    );
  const keep = Array.from({ length: t }, (_, i) => Math.floor(((i + 0.5) * crops.length) / t));
  return gatherFrames(
    keep.map((i) => crops[i]!),
    keep.map((i) => lms[i]!),
    resolution,
    path,
    keep.map((i) => idx[i]!),
  );
}

/** T frames of a dataset video (seeded; the others stay hold-out frames for driving and evaluation). */
export function framesFromDataset(ds: Dataset, video: number, t: number, seed = 0): FewShotFrames {
  const v = ds.video(video);
  if (t >= v.frames)
    throw new InputError(
      `Video ${video} ("${v.id}") of "${ds.dir}" has ${v.frames} frames; -T ${t} must be smaller (some are kept for hold-out).`,
    );
  return framesFromDatasetAt(ds, video, fewShotSet(ds, video, t, 0, seed).train);
}

/** Given frames of a dataset video as few-shot frames. */
export function framesFromDatasetAt(ds: Dataset, video: number, frames: number[]): FewShotFrames {
  const v = ds.video(video);
  const crops = frames.map((f) => ds.readFrames(video, f, 1));
  const lms = frames.map((f) => ds.frameLandmarks(video, f).slice());
  const out = gatherFrames(crops, lms, ds.resolution, `${ds.dir}#${video}`, frames);
  out.identity = v.identity;
  return out;
}
