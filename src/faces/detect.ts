/**
 * Face detection and 68 landmarks with @vladmandic/face-api's networks (SSD MobileNet v1 detector,
 * 68-point landmark net; weights bundled in the npm package) on the active TF.js backend. We call the
 * two networks ourselves rather than face-api's detect-then-landmark chain, so that callers choose
 * which frames get the (expensive) detector and can batch the (cheap) landmark net: that is what
 * track.ts does to follow a face through a video at video speed (issue 11).
 *
 * Inputs are prepared here, as face-api would, but without its per-call tensor padding: the
 * detector sees the frame drawn into a 512 x 512 canvas (zero padding; `pad` > 1 draws it smaller,
 * in the middle, so that a face filling the frame, or cut by its edge, becomes findable), and the
 * landmark net a 112 x 112 square around the face box (zero outside the image).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { tf } from '../engine/tf.js';
import { startWorker } from '../engine/workers.js';
import { cropResize, type Square } from './crop.js';
import { LANDMARK_INPUT, LandmarkNet } from '../pretrained/landmark_net.js';
import { findFaceModels } from '../pretrained/faceapi_files.js';
import { landmarkSet } from './landmarks.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FaceBox {
  box: Box;
  /** the detector's face probability */
  score: number;
}

export interface DetectedFace extends FaceBox {
  /** 68 (x, y) pairs in image pixel coordinates */
  landmarks: Float32Array;
}

/** The detector's input size (SSD MobileNet v1 in face-api) and the landmark net's. */
export const DETECTOR_INPUT = 512;
export { LANDMARK_INPUT };

interface FaceApiDetection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}
interface FaceApiResult {
  detection: FaceApiDetection;
  landmarks: { positions: { x: number; y: number }[] };
}
/** What we use of face-api's module (its Node builds and its browser ESM build alike). */
export interface FaceApi {
  nets: {
    ssdMobilenetv1: {
      loadFromDisk(dir: string): Promise<void>;
      locateFaces(input: tf.Tensor3D, options: unknown): Promise<FaceApiDetection[]>;
    };
    faceLandmark68Net: {
      loadFromDisk(dir: string): Promise<void>;
      forward(input: tf.Tensor3D[]): Promise<tf.Tensor2D>;
    };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): { withFaceLandmarks(): Promise<FaceApiResult[]> };
}

/**
 * The two networks, wherever they run (this thread: `FaceDetector`; a worker: `WorkerFaceDetector`).
 * Both take pixels the caller prepared (`detectorInput`, `landmarkInput`), so only small images
 * cross a thread boundary.
 */
export interface Detector {
  /** Faces in a DETECTOR_INPUT² canvas (from `detectorInput`), in canvas pixels, best first. */
  locate(canvas: Uint8Array, minConfidence: number): Promise<FaceBox[]>;
  /** 68 landmarks of each LANDMARK_INPUT² crop (from `landmarkInput`), in crop pixels. */
  landmarks(crops: Uint8Array[]): Promise<Float32Array[]>;
}

/** Where a frame lies in the detector's canvas: canvas = frame * scale + offset. */
export interface CanvasPlacement {
  scale: number;
  ox: number;
  oy: number;
}

/**
 * The frame drawn into the detector's canvas. pad 1: scaled to fit, top-left (as face-api places
 * it); pad p > 1: the canvas spans p times the frame's longer side, the frame in the middle.
 */
export function detectorInput(
  rgb: Uint8Array,
  w: number,
  h: number,
  pad = 1,
): { canvas: Uint8Array; place: CanvasPlacement } {
  const side = pad * Math.max(w, h);
  const sq: Square = pad === 1 ? { cx: side / 2, cy: side / 2, side } : { cx: w / 2, cy: h / 2, side };
  const scale = DETECTOR_INPUT / side;
  const place = { scale, ox: -(sq.cx - side / 2) * scale, oy: -(sq.cy - side / 2) * scale };
  return { canvas: cropResize(rgb, w, h, sq, DETECTOR_INPUT, 0), place };
}

/** A canvas box back in frame pixels, clipped to the frame. */
export function boxFromCanvas(b: Box, p: CanvasPlacement, w: number, h: number): Box {
  const x0 = Math.max(0, (b.x - p.ox) / p.scale);
  const y0 = Math.max(0, (b.y - p.oy) / p.scale);
  const x1 = Math.min(w, (b.x + b.width - p.ox) / p.scale);
  const y1 = Math.min(h, (b.y + b.height - p.oy) / p.scale);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/** The landmark net's view of a face box: the square on its longer side, centred on it. */
export function landmarkSquare(b: Box): Square {
  return { cx: b.x + b.width / 2, cy: b.y + b.height / 2, side: Math.max(b.width, b.height) };
}

export function landmarkInput(rgb: Uint8Array, w: number, h: number, sq: Square): Uint8Array {
  return cropResize(rgb, w, h, sq, LANDMARK_INPUT, 0);
}

/** Landmarks in crop pixels (LANDMARK_INPUT²) -> frame pixels. */
export function landmarksFromCrop(lm: Float32Array, sq: Square): Float32Array {
  const k = sq.side / LANDMARK_INPUT;
  const x0 = sq.cx - sq.side / 2;
  const y0 = sq.cy - sq.side / 2;
  const out = new Float32Array(lm.length);
  for (let i = 0; i < lm.length; i += 2) {
    out[i] = x0 + lm[i]! * k;
    out[i + 1] = y0 + lm[i + 1]! * k;
  }
  return out;
}

/** Scales at which the detector looks: the frame as it is, then padded to 2x and 3x its size. */
export const DETECT_PADS = [1, 2, 3] as const;

/**
 * Faces in a frame, in frame pixels: the plain frame first, then padded copies (`pads`, in that
 * order) until one finds a face. Returns the faces and the pad that found them (0: none).
 */
export async function locateFaces(
  det: Detector,
  rgb: Uint8Array,
  w: number,
  h: number,
  minConfidence: number,
  pads: readonly number[] = DETECT_PADS,
): Promise<{ faces: FaceBox[]; pad: number }> {
  if (rgb.length !== w * h * 3) throw new RangeError(`detect: ${rgb.length} bytes for a ${w}x${h} RGB image`);
  for (const pad of pads) {
    const { canvas, place } = detectorInput(rgb, w, h, pad);
    const found = await det.locate(canvas, minConfidence);
    const faces = found
      .map((f) => ({ score: f.score, box: boxFromCanvas(f.box, place, w, h) }))
      .filter((f) => f.box.width > 1 && f.box.height > 1);
    if (faces.length) return { faces, pad };
  }
  return { faces: [], pad: 0 };
}

/** Landmarks of faces with known boxes, in one batch, in frame pixels. */
export async function landmarksAt(
  det: Detector,
  rgb: Uint8Array,
  w: number,
  h: number,
  squares: Square[],
): Promise<Float32Array[]> {
  if (squares.length === 0) return [];
  const out = await det.landmarks(squares.map((sq) => landmarkInput(rgb, w, h, sq)));
  return out.map((lm, i) => landmarksFromCrop(lm, squares[i]!));
}

/** Every face of a still image with its landmarks (photos; videos go through track.ts). */
export async function detectFaces(
  det: Detector,
  rgb: Uint8Array,
  w: number,
  h: number,
  minConfidence = 0.5,
): Promise<DetectedFace[]> {
  const { faces } = await locateFaces(det, rgb, w, h, minConfidence);
  const lms = await landmarksAt(
    det,
    rgb,
    w,
    h,
    faces.map((f) => landmarkSquare(f.box)),
  );
  return faces.map((f, i) => ({ ...f, landmarks: lms[i]! }));
}

/** face-api's networks in this thread, on the active backend. */
export class FaceDetector implements Detector {
  private constructor(
    private readonly api: FaceApi,
    private readonly net: LandmarkNet,
  ) {}

  private static loaded: Promise<FaceDetector> | null = null;

  /** Loads face-api and its bundled weights, once per thread (later calls share them). */
  static load(): Promise<FaceDetector> {
    FaceDetector.loaded ??= (async () => {
      const dir = findFaceModels();
      if (!dir) throw new Error('Face models not found: @vladmandic/face-api is not installed (run npm ci)');
      let api: FaceApi;
      try {
        const require = createRequire(import.meta.url);
        api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
      } catch (e) {
        throw new Error(`Cannot load @vladmandic/face-api: ${(e as Error).message}`);
      }
      await api.nets.ssdMobilenetv1.loadFromDisk(dir);
      await api.nets.faceLandmark68Net.loadFromDisk(dir); // for faceApiReference
      return new FaceDetector(api, LandmarkNet.load());
    })().catch((e: unknown) => {
      FaceDetector.loaded = null;
      throw e;
    });
    return FaceDetector.loaded;
  }

  /**
   * A detector on a face-api module whose SSD detector weights the caller loaded (the browser app
   * loads them over HTTP); the landmark net is ours (LandmarkNet.load). `faceApiLandmarks` also
   * needs face-api's landmark net loaded.
   */
  static fromLoaded(api: FaceApi, net: LandmarkNet): FaceDetector {
    return new FaceDetector(api, net);
  }

  async locate(canvas: Uint8Array, minConfidence: number): Promise<FaceBox[]> {
    const n = DETECTOR_INPUT;
    if (canvas.length !== n * n * 3)
      throw new RangeError(`locate: ${canvas.length} bytes, not ${n}x${n} RGB`);
    const t = tf.tensor3d(canvas, [n, n, 3], 'int32');
    try {
      const found = await this.api.nets.ssdMobilenetv1.locateFaces(
        t,
        new this.api.SsdMobilenetv1Options({ minConfidence, maxResults: 10 }),
      );
      return found
        .map((d) => ({
          score: d.score,
          box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height },
        }))
        .sort((a, b) => b.score - a.score);
    } finally {
      t.dispose();
    }
  }

  landmarks(crops: Uint8Array[]): Promise<Float32Array[]> {
    return this.net.predict(crops);
  }

  /** face-api's own landmark forward on the same crops: the twin landmark_net.test.ts checks against. */
  async faceApiLandmarks(crops: Uint8Array[]): Promise<Float32Array[]> {
    const n = LANDMARK_INPUT;
    const ts = crops.map((c) => tf.tensor3d(c, [n, n, 3], 'int32'));
    try {
      const out = await this.api.nets.faceLandmark68Net.forward(ts);
      const flat = await out.data();
      out.dispose();
      return crops.map((_, i) => Float32Array.from(landmarkSet(flat, i), (v) => v * n));
    } finally {
      ts.forEach((t) => t.dispose());
    }
  }

  /**
   * face-api's own detect-then-landmark chain on a frame as it is (no padding, no tracking): what
   * preprocessing did before issue 11, kept as the reference its tests and benchmark compare with.
   */
  async faceApiReference(
    rgb: Uint8Array,
    w: number,
    h: number,
    minConfidence = 0.5,
  ): Promise<DetectedFace[]> {
    const t = tf.tensor3d(rgb, [h, w, 3], 'int32');
    try {
      const res = await this.api
        .detectAllFaces(t, new this.api.SsdMobilenetv1Options({ minConfidence, maxResults: 10 }))
        .withFaceLandmarks();
      return res
        .map((r) => ({
          box: { ...r.detection.box },
          score: r.detection.score,
          landmarks: Float32Array.from(r.landmarks.positions.flatMap((p) => [p.x, p.y])),
        }))
        .sort((a, b) => b.score - a.score);
    } finally {
      t.dispose();
    }
  }
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * The main face: the largest in the first frame; afterwards the one overlapping the previous main
 * face most (so a second person walking in does not steal the track), else the largest.
 */
export function chooseMainFace<F extends FaceBox>(faces: F[], previous: Box | null): F | null {
  if (faces.length === 0) return null;
  const area = (f: F) => f.box.width * f.box.height;
  if (previous) {
    const best = faces.reduce((a, b) => (iou(b.box, previous) > iou(a.box, previous) ? b : a));
    if (iou(best.box, previous) > 0.1) return best;
  }
  return faces.reduce((a, b) => (area(b) > area(a) ? b : a));
}

/**
 * face-api's networks in a worker thread, on the backend the engine would choose there (native when
 * built: since issue 11 it runs the detector's depthwise convolutions and batch norms natively; else
 * wasm), so they run beside the caller's work (animation's generator) and overlap it. Requests are
 * answered in order; `close()` ends the thread.
 */
export class WorkerFaceDetector implements Detector {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(backend?: string) {
    const worker = startWorker(import.meta.url, 'face_worker', { backend });
    worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (this.pending.size) this.fail(new Error(`face detection worker exited (code ${code})`));
    });
    worker.unref();
    this.worker = worker;
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private call<T>(msg: FaceWorkerRequest, transfer: ArrayBuffer[]): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ ...msg, id }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  locate(canvas: Uint8Array, minConfidence: number): Promise<FaceBox[]> {
    return this.call({ op: 'locate', canvas, minConfidence }, []);
  }

  async landmarks(crops: Uint8Array[]): Promise<Float32Array[]> {
    const out = await this.call<Float32Array[]>({ op: 'landmarks', crops }, []);
    return out.map((l) => Float32Array.from(l));
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

export type FaceWorkerRequest =
  { op: 'locate'; canvas: Uint8Array; minConfidence: number } | { op: 'landmarks'; crops: Uint8Array[] };
