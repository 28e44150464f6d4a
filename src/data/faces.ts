/**
 * Face detection and 68 landmarks with @vladmandic/face-api (SSD MobileNet v1 detector + 68-point
 * landmark net, weights bundled in the npm package, run on the active TF.js backend).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { tf } from '../engine/tf.js';
import { startWorker } from '../engine/workers.js';
import { findFaceModels } from './tools.js';

const require = createRequire(import.meta.url);

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: Box;
  score: number;
  /** 68 (x, y) pairs in image pixel coordinates */
  landmarks: Float32Array;
}

interface FaceApiPoint {
  x: number;
  y: number;
}
interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  landmarks: { positions: FaceApiPoint[] };
}
interface FaceApi {
  nets: {
    ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void> };
    faceLandmark68Net: { loadFromDisk(dir: string): Promise<void> };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): { withFaceLandmarks(): Promise<FaceApiResult[]> };
}

/** Anything that finds faces and their landmarks in an RGB image. */
export interface Detector {
  detect(rgb: Uint8Array, width: number, height: number, minConfidence?: number): Promise<DetectedFace[]>;
}

export class FaceDetector implements Detector {
  private constructor(private readonly api: FaceApi) {}

  /** Loads face-api and its bundled weights (once per process). */
  static async load(): Promise<FaceDetector> {
    const dir = findFaceModels();
    if (!dir) throw new Error('Face models not found: @vladmandic/face-api is not installed (run npm ci)');
    let api: FaceApi;
    try {
      api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    } catch (e) {
      throw new Error(`Cannot load @vladmandic/face-api: ${(e as Error).message}`);
    }
    await api.nets.ssdMobilenetv1.loadFromDisk(dir);
    await api.nets.faceLandmark68Net.loadFromDisk(dir);
    return new FaceDetector(api);
  }

  /** All faces in an RGB image, best first. */
  async detect(rgb: Uint8Array, width: number, height: number, minConfidence = 0.5): Promise<DetectedFace[]> {
    if (rgb.length !== width * height * 3)
      throw new RangeError(`detect: ${rgb.length} bytes for a ${width}x${height} RGB image`);
    const t = tf.tensor3d(rgb, [height, width, 3], 'int32');
    try {
      const res = await this.api
        .detectAllFaces(t, new this.api.SsdMobilenetv1Options({ minConfidence, maxResults: 10 }))
        .withFaceLandmarks();
      return res
        .map((r) => {
          const lm = new Float32Array(136);
          r.landmarks.positions.forEach((p, i) => {
            lm[2 * i] = p.x;
            lm[2 * i + 1] = p.y;
          });
          const b = r.detection.box;
          return {
            box: { x: b.x, y: b.y, width: b.width, height: b.height },
            score: r.detection.score,
            landmarks: lm,
          };
        })
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
export function chooseMainFace(faces: DetectedFace[], previous: Box | null): DetectedFace | null {
  if (faces.length === 0) return null;
  const area = (f: DetectedFace) => f.box.width * f.box.height;
  if (previous) {
    const best = faces.reduce((a, b) => (iou(b.box, previous) > iou(a.box, previous) ? b : a));
    if (iou(best.box, previous) > 0.1) return best;
  }
  return faces.reduce((a, b) => (area(b) > area(a) ? b : a));
}

/**
 * face-api in a worker thread on its own backend (default wasm), so detection runs beside the
 * caller's work (animation's generator on the native backend) and on the backend where it is fast.
 * Requests are answered in order; `close()` ends the thread.
 */
export class WorkerFaceDetector implements Detector {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (f: DetectedFace[]) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(backend = 'wasm') {
    const worker = startWorker(import.meta.url, 'face_worker', { backend });
    worker.on('message', (m: { id: number; faces?: DetectedFace[]; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.faces!.map((f) => ({ ...f, landmarks: Float32Array.from(f.landmarks) })));
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

  detect(rgb: Uint8Array, width: number, height: number, minConfidence = 0.5): Promise<DetectedFace[]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, rgb, width, height, minConfidence });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    }) as Promise<DetectedFace[]>;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
