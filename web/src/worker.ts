/**
 * The engine worker: all the computing but G' (render_worker.ts), off the page's thread, with the
 * library of src/ as the CLI uses it: face-api's detector with our landmark net and tracker
 * (faces/detect.ts, faces/track.ts), photo crops (data/fewshot.ts), the few-shot model and fine-tuning
 * (train/finetune.ts) and retargeting (faces/retarget.ts). Only the I/O differs: the model and
 * face-api's weights are fetched from the page's server.
 */
import './wasm_setup.js';
import * as faceapi from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
import { neutralShape, Retargeter } from '../../src/faces/retarget.js';
import { FaceDetector, type FaceApi } from '../../src/faces/detect.js';
import { gatherFrames, photoFrame, type FewShotFrames } from '../../src/data/fewshot.js';
import { InputError } from '../../src/core/errors.js';
import { cropResize, DEFAULT_CROP, landmarksInCrop, squareFor } from '../../src/faces/crop.js';
import { rgbFromRgba, toRgb8 } from '../../src/media/image.js';
import { LandmarkNet } from '../../src/pretrained/landmark_net.js';
import { stackLandmarks } from '../../src/faces/landmarks.js';
import { closeUpClip, type Clip } from '../../src/synthetic/clips.js';
import { trackLandmarks } from '../../src/faces/track.js';
import type { Frame } from '../../src/media/video.js';
import { tf } from '../../src/engine/tf.js';
import { disposePersonal, encodePersonalModel, type PersonalModel } from '../../src/models/personal.js';
import { FineTuneConfigSchema, personalise, disposePersonalised } from '../../src/train/finetune.js';
import { decodeModelFile, metaModelOf, type MetaModel } from '../../src/train/model_file.js';
import { startBackend } from './backend.js';
import { fetchFaceModels } from './shims/faceapi_files.js';
import type { FromWorker, Pixels, ToWorker } from './protocol.js';

/**
 * The shipped model the page loads by default (served from the package's models/ folder): the
 * real-face one, since the page is for people's own photos; `?model=small-64px-ff` and others too.
 */
const DEFAULT_MODEL = 'real-64px';
/** face-api models: the detector, landmarks, and fine-tuning's content networks (identity, MobileNet) */
const FACE_MODELS = ['ssd_mobilenetv1_model', 'face_landmark_68_model', 'face_recognition_model'];
/** display size of the photo crops */
const CROP_VIEW = 192;
/**
 * Tracking a webcam: each frame's landmarks as it comes (batch 1), the detector every 2 s or when the
 * template match weakens (a webcam shows one face that rarely leaves; each detection costs a
 * frame's time on one core).
 */
const LIVE_TRACK = { batch: 1, fps: 25, detectEvery: 50, detectInterval: 2 };
/** driver frames whose neutral shape retargeting measures motion against (animate's default) */
const NEUTRAL_FRAMES = 25;

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);
const status = (text: string) => post({ type: 'status', text });

let meta: MetaModel | null = null;
let detector: FaceDetector | null = null;
let frames: FewShotFrames | null = null;
let person: PersonalModel | null = null;
let cancelled = false;
let clip: Clip | null = null;

async function init(wanted: string | null, model: string | null): Promise<void> {
  const name = model ?? DEFAULT_MODEL;
  if (!/^[\w.-]+$/.test(name)) throw new Error(`No shipped model is called "${name}"`);
  const t0 = performance.now();
  status('starting the engine…');
  const { name: backend, threads, simd } = await startBackend(wanted);
  status(`loading the model and face networks (${backend})…`);
  const [bytes] = await Promise.all([
    fetch(`/models/${name}.safetensors`).then(async (r) => {
      if (!r.ok) throw new Error(`Cannot fetch the model ${name}: HTTP ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    }),
    fetchFaceModels(FACE_MODELS),
  ]);
  const sha = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  meta = metaModelOf(decodeModelFile(bytes, `${name}.safetensors`, sha));
  const api = faceapi as unknown as FaceApi & {
    nets: { ssdMobilenetv1: { loadFromUri(url: string): Promise<void> } };
  };
  // face-api knows windows and Node, not workers: give it the worker's canvas and fetch.
  // no <img> or <video> here: a class nothing is an instance of
  const none = function NotInAWorker() {
    throw new Error('images and video elements do not exist in a worker');
  } as never;
  faceapi.env.setEnv({
    Canvas: OffscreenCanvas as never,
    CanvasRenderingContext2D: OffscreenCanvasRenderingContext2D as never,
    Image: none,
    ImageData,
    Video: none,
    createCanvasElement: () => new OffscreenCanvas(1, 1) as never,
    createImageElement: () => {
      throw new Error('no images in the worker');
    },
    createVideoElement: () => {
      throw new Error('no video in the worker');
    },
    fetch: (url, init) => fetch(url, init),
    readFile: () => Promise.reject(new Error('no files in the browser')),
  });
  await api.nets.ssdMobilenetv1.loadFromUri('/face-api/');
  detector = FaceDetector.fromLoaded(api, LandmarkNet.load());
  post({
    type: 'ready',
    info: {
      backend,
      threads,
      simd,
      crossOriginIsolated: self.crossOriginIsolated,
      model: name,
      preset: meta.config.preset,
      resolution: meta.net.resolution,
      loadMs: performance.now() - t0,
    },
  });
}

function setPerson(p: PersonalModel): void {
  if (person) disposePersonal(person);
  person = p;
  resetDrive();
}

/** Faces of the photos, then the feed-forward model made from them (sec. 3.3, psi' = P e_NEW). */
async function photos(list: (Pixels & { name: string })[]): Promise<void> {
  const m = meta!;
  const r = m.net.resolution;
  const accepted = [];
  const rejected = [];
  const crops: Uint8Array[] = [];
  const lms: Float32Array[] = [];
  for (const p of list) {
    status(`finding the face in ${p.name}…`);
    const frame = { rgb: rgbFromRgba(p.rgba), width: p.width, height: p.height };
    try {
      const f = await photoFrame(detector!, frame, r, p.name);
      crops.push(f.crop);
      lms.push(f.landmarks);
      accepted.push({
        name: p.name,
        size: CROP_VIEW,
        rgb: cropResize(frame.rgb, frame.width, frame.height, f.square, CROP_VIEW),
        landmarks: landmarksInCrop(f.face.landmarks, f.square, CROP_VIEW),
      });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      rejected.push({ name: p.name, reason: e.message });
    }
  }
  post({ type: 'faces', accepted, rejected });
  if (crops.length === 0) return;
  frames = gatherFrames(
    crops,
    lms,
    r,
    `browser: ${accepted.map((a) => a.name).join(', ')}`,
    crops.map((_, i) => i),
  );
  status('making the feed-forward model…');
  await makePerson(FineTuneConfigSchema.parse({ finetune: false }));
}

async function makePerson(cfg: ReturnType<typeof FineTuneConfigSchema.parse>): Promise<void> {
  const t0 = performance.now();
  cancelled = false;
  const p = await personalise(meta!, frames!, cfg, null, {
    onStep: (step, total) => post({ type: 'progress', step, total }),
    // let the cancel message in between steps
    shouldStop: () => new Promise((res) => setTimeout(() => res(cancelled), 0)),
  });
  const r = meta!.net.resolution;
  const fb = r * r * 3;
  const values = p.fineTuned.dataSync();
  const out = Array.from(
    { length: frames!.count },
    (_, t) => toRgb8(values.subarray(t * fb, (t + 1) * fb), r, r).data,
  );
  disposePersonalised(p);
  setPerson(p.model);
  post({
    type: 'person',
    mode: p.model.info.mode,
    resolution: r,
    frames: out,
    steps: p.steps,
    ms: performance.now() - t0,
    stopped: p.stopped === 'interrupted' ? 'cancelled' : p.stopped,
  });
}

// ---- driving -------------------------------------------------------------------------------------

/** Frames pushed by the page, pulled by the tracker: one in flight at a time. */
class LiveFrames implements AsyncIterable<Frame> {
  private waiting: ((f: IteratorResult<Frame>) => void) | null = null;
  private queued: Frame | null = null;
  private closed = false;

  push(f: Frame): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ value: f, done: false });
    } else this.queued = f;
  }

  close(): void {
    this.closed = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
  }

  [Symbol.asyncIterator](): AsyncIterator<Frame> {
    return {
      next: () => {
        if (this.queued) {
          const f = this.queued;
          this.queued = null;
          return Promise.resolve({ value: f, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((res) => (this.waiting = res));
      },
    };
  }
}

interface CameraTrack {
  live: LiveFrames;
  results: AsyncIterator<{ frame: Frame; face: { landmarks: Float32Array } | null }>;
  index: number;
}
let camera: CameraTrack | null = null;
/** the driver's first frames' landmarks (its neutral shape) and the retargeter made from them */
let driverFrames: Float32Array[] = [];
let retargeter: Retargeter | null = null;
let canvas: OffscreenCanvasRenderingContext2D | null = null;

function resetDrive(): void {
  camera?.live.close();
  camera = null;
  driverFrames = [];
  retargeter = null;
}

/**
 * The landmarks G draws from, in model pixels. Retargeted (the default): the driver's motion on this
 * person's face (faces/retarget.ts), measured against the driver's neutral shape, which is the
 * whole clip's, or the camera's first NEUTRAL_FRAMES frames' (re-measured once they are in). Raw: the
 * driver's own landmarks, cropped as preprocessing crops a face (squareFor).
 */
function modelLandmarks(lm: Float32Array, m: Extract<ToWorker, { type: 'drive' }>): Float32Array {
  const p = person!;
  if (!m.retarget) return landmarksInCrop(lm, squareFor(lm, DEFAULT_CROP), p.net.resolution);
  const targetNeutral = () => neutralShape(p.landmarks, p.frames);
  if (m.source === 'clip') {
    if (!retargeter) {
      const c = clipFrames();
      retargeter = new Retargeter(
        targetNeutral(),
        neutralShape(stackLandmarks(c.landmarks), c.landmarks.length),
      );
    }
  } else if (driverFrames.length < NEUTRAL_FRAMES) {
    driverFrames.push(lm.slice());
    if (driverFrames.length === 1 || driverFrames.length === NEUTRAL_FRAMES) {
      retargeter = new Retargeter(
        targetNeutral(),
        neutralShape(stackLandmarks(driverFrames), driverFrames.length),
      );
    }
  }
  return retargeter!.map(lm);
}

function clipFrames(): Clip {
  clip ??= closeUpClip(11, 4242, 100, 160);
  return clip;
}

async function driverLandmarks(m: Extract<ToWorker, { type: 'drive' }>): Promise<Float32Array | null> {
  if (m.source === 'clip') {
    const c = clipFrames();
    return c.landmarks[m.index % c.landmarks.length]!;
  }
  const bmp = m.image;
  const { width, height } = bmp;
  if (!canvas || canvas.canvas.width !== bmp.width || canvas.canvas.height !== bmp.height)
    canvas = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d', { willReadFrequently: true });
  canvas!.drawImage(bmp, 0, 0);
  bmp.close();
  const rgb = rgbFromRgba(canvas!.getImageData(0, 0, width, height).data);
  if (!camera) {
    const live = new LiveFrames();
    const results = trackLandmarks(live, detector!, LIVE_TRACK)[Symbol.asyncIterator]();
    camera = { live, results, index: 0 };
  }
  camera.live.push({
    index: camera.index++,
    width: canvas!.canvas.width,
    height: canvas!.canvas.height,
    rgb,
  });
  const next = await camera.results.next();
  return next.done ? null : (next.value.face?.landmarks ?? null);
}

/** A driver frame -> the landmarks G' draws from; the page hands them to a render worker. */
async function drive(m: Extract<ToWorker, { type: 'drive' }>): Promise<void> {
  if (!person) throw new Error('Make a model from photos first');
  const t0 = performance.now();
  const lm = await driverLandmarks(m);
  const landmarks = lm ? modelLandmarks(lm, m) : null;
  post({ type: 'target', seq: m.seq, landmarks, ms: performance.now() - t0 });
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init':
      return init(m.backend, m.model);
    case 'photos':
      return photos(m.photos);
    case 'finetune':
      status('fine-tuning…');
      return makePerson(FineTuneConfigSchema.parse({ epochs: m.epochs }));
    case 'cancel':
      cancelled = true;
      return;
    case 'clip': {
      const c = clipFrames();
      post({
        type: 'clip',
        width: c.width,
        height: c.height,
        fps: c.fps,
        frames: c.frames.map((f) => f.slice()),
      });
      return;
    }
    case 'drive':
      return drive(m);
    case 'drive-reset':
      resetDrive();
      return;
    case 'export': {
      if (!person) throw new Error('Make a model from photos first');
      post({
        type: 'model',
        bytes: encodePersonalModel(person),
        name: `talking-head-${person.info.mode}.safetensors`,
      });
      return;
    }
    case 'memory': {
      const mem = tf.memory();
      post({ type: 'memory', tensors: mem.numTensors, bytes: mem.numBytes });
      return;
    }
  }
}

// Messages are handled one at a time, in order, except 'cancel', which must reach a running
// fine-tuning (it yields between steps).
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'cancel') {
    cancelled = true;
    return;
  }
  queue = queue.then(() =>
    handle(m).catch((err: unknown) =>
      post({ type: 'error', message: err instanceof Error ? err.message : String(err), during: m.type }),
    ),
  );
};
