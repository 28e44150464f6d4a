/** Messages between the page (app.ts) and the engine worker (worker.ts). */

/** An image as RGBA pixels (what a canvas gives). */
export interface Pixels {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export type ToWorker =
  /** model: a shipped model's name (the page's ?model=), null for the default */
  | { type: 'init'; backend: string | null; model: string | null }
  | { type: 'photos'; photos: (Pixels & { name: string })[] }
  | { type: 'finetune'; epochs: number }
  | { type: 'cancel' }
  | { type: 'clip' }
  /** one driver frame: a camera image, or the index of a frame of the bundled clip */
  | { type: 'drive'; seq: number; source: 'camera'; image: ImageBitmap; retarget: boolean }
  | { type: 'drive'; seq: number; source: 'clip'; index: number; retarget: boolean }
  | { type: 'drive-reset' }
  | { type: 'export' }
  | { type: 'memory' };

/** A face found in a photo: its crop for display, and landmarks in crop pixels. */
export interface FaceCrop {
  name: string;
  size: number;
  rgb: Uint8Array;
  landmarks: Float32Array;
}

export interface EngineInfo {
  backend: string;
  threads: number;
  simd: boolean;
  crossOriginIsolated: boolean;
  model: string;
  preset: string;
  resolution: number;
  loadMs: number;
}

export type FromWorker =
  | { type: 'ready'; info: EngineInfo }
  | { type: 'status'; text: string }
  | { type: 'faces'; accepted: FaceCrop[]; rejected: { name: string; reason: string }[] }
  /** the personalised model's reconstructions of the T photos (R x R RGB each) */
  | {
      type: 'person';
      mode: 'feed-forward' | 'fine-tuned';
      resolution: number;
      frames: Uint8Array[];
      steps: number;
      ms: number;
      stopped: string;
    }
  | { type: 'progress'; step: number; total: number }
  | { type: 'clip'; width: number; height: number; fps: number; frames: Uint8Array[] }
  /** a driver frame's landmarks for G (model pixels), null when it shows no face */
  | { type: 'target'; seq: number; landmarks: Float32Array | null; ms: number }
  | { type: 'model'; bytes: Uint8Array; name: string }
  | { type: 'memory'; tensors: number; bytes: number }
  | { type: 'error'; message: string; during: string };

export type ToRender =
  | { type: 'init'; backend: string | null }
  | { type: 'model'; bytes: Uint8Array }
  | { type: 'render'; seq: number; landmarks: Float32Array }
  | { type: 'memory' };

export type FromRender =
  | { type: 'ready'; backend: string; threads: number }
  | { type: 'loaded' }
  | { type: 'rendered'; seq: number; rgb: Uint8Array; ms: number }
  | { type: 'memory'; tensors: number; bytes: number }
  | { type: 'error'; message: string };
