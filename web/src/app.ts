/**
 * The page: photos in, a personalised talking head out, driven live. A thin layer over the engine
 * worker (worker.ts), which runs the project's library; this file only moves pixels between the
 * camera, the worker and canvases, and keeps the buttons honest.
 */
import { FACE_PARTS } from '../../src/faces/landmarks.js';
import type { FaceCrop, FromRender, FromWorker, Pixels, ToRender, ToWorker } from './protocol.js';

/** largest side of a photo handed to the detector (as the CLI decodes photos) */
const PHOTO_MAX = 1280;
/** largest side of a camera frame handed to the tracker */
const CAMERA_MAX = 320;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

const ui = {
  backend: $('backend'),
  status: $('status'),
  photos: $<HTMLInputElement>('photos'),
  drop: $('drop'),
  snapshot: $<HTMLButtonElement>('snapshot'),
  useSnapshots: $<HTMLButtonElement>('use-snapshots'),
  faces: $('faces'),
  rejected: $('rejected'),
  mode: $('mode'),
  result: $('result'),
  epochs: $<HTMLSelectElement>('epochs'),
  finetune: $<HTMLButtonElement>('finetune'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  downloadModel: $<HTMLButtonElement>('download-model'),
  driveCamera: $<HTMLButtonElement>('drive-camera'),
  driveClip: $<HTMLButtonElement>('drive-clip'),
  driveStop: $<HTMLButtonElement>('drive-stop'),
  retarget: $<HTMLInputElement>('retarget'),
  record: $<HTMLButtonElement>('record'),
  downloadVideo: $<HTMLAnchorElement>('download-video'),
  driver: $<HTMLCanvasElement>('driver'),
  output: $<HTMLCanvasElement>('output'),
  fps: $('fps'),
  camera: $<HTMLVideoElement>('camera'),
};

/** What tests and the benchmark read (window.talkingHeads). */
const stats = {
  ready: false,
  backend: '',
  threads: 0,
  personMode: '' as string,
  personSteps: 0,
  outputFrames: 0,
  faceMisses: 0,
  fps: 0,
  lastMs: { track: 0, generate: 0 },
  errors: [] as string[],
};
type Memory = { tensors: number; bytes: number };
let memoryWaiter: ((m: Memory) => void) | null = null;
const renderMemory: ((m: Memory) => void)[] = [];
/** TF.js tensors and bytes held by the engine worker and, separately, by the render workers. */
async function memory(): Promise<{ engine: Memory; render: Memory }> {
  const engine = new Promise<Memory>((res) => (memoryWaiter = res));
  send({ type: 'memory' });
  const parts = await Promise.all(
    renderers.map((r) => {
      const p = new Promise<Memory>((res) => renderMemory.push(res));
      r.worker.postMessage({ type: 'memory' } satisfies ToRender);
      return p;
    }),
  );
  const render = parts.reduce((a, b) => ({ tensors: a.tensors + b.tensors, bytes: a.bytes + b.bytes }), {
    tensors: 0,
    bytes: 0,
  });
  return { engine: await engine, render };
}
(window as unknown as { talkingHeads: unknown }).talkingHeads = { stats, memory };

// ---- drawing -------------------------------------------------------------------------------------

function rgbToImageData(rgb: Uint8Array, w: number, h: number): ImageData {
  const d = new ImageData(w, h);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    d.data[j] = rgb[i]!;
    d.data[j + 1] = rgb[i + 1]!;
    d.data[j + 2] = rgb[i + 2]!;
    d.data[j + 3] = 255;
  }
  return d;
}

const scratch = document.createElement('canvas');
/** Draws an RGB image scaled to fill `canvas` (smoothly: the model's 64px output shown at 256). */
function drawRgb(canvas: HTMLCanvasElement, rgb: Uint8Array, w: number, h: number): void {
  scratch.width = w;
  scratch.height = h;
  scratch.getContext('2d')!.putImageData(rgbToImageData(rgb, w, h), 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

function drawLandmarks(canvas: HTMLCanvasElement, lm: Float32Array, size: number): void {
  const ctx = canvas.getContext('2d')!;
  const k = canvas.width / size;
  ctx.lineWidth = 1.5;
  for (const part of FACE_PARTS) {
    ctx.strokeStyle = `rgb(${part.color.join(',')})`;
    ctx.beginPath();
    for (let i = part.from; i <= part.to; i++) {
      const x = lm[2 * i]! * k;
      const y = lm[2 * i + 1]! * k;
      if (i === part.from) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    if (part.closed) ctx.closePath();
    ctx.stroke();
  }
}

function tile(rgb: Uint8Array, size: number, caption: string, cls = ''): HTMLElement {
  const fig = document.createElement('figure');
  const c = document.createElement('canvas');
  c.width = 192;
  c.height = 192;
  if (cls) c.className = cls;
  drawRgb(c, rgb, size, size);
  fig.append(c);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(cap);
  return fig;
}

// ---- photos --------------------------------------------------------------------------------------

async function pixelsOf(
  src: ImageBitmapSource,
  name: string,
  max: number,
): Promise<Pixels & { name: string }> {
  const bmp = await createImageBitmap(src);
  const k = Math.min(1, max / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * k));
  const h = Math.max(1, Math.round(bmp.height * k));
  const c = new OffscreenCanvas(w, h);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return { name, width: w, height: h, rgba: ctx.getImageData(0, 0, w, h).data };
}

/** `problems`: photos that could not be read, listed with the faces' rejections. */
function usePhotos(list: (Pixels & { name: string })[], problems: string[] = []): void {
  const notes = [...problems];
  if (list.length > 8) {
    notes.push(`Using the first 8 of ${list.length} photos.`);
    list = list.slice(0, 8);
  }
  ui.rejected.replaceChildren(...notes.map(li));
  if (list.length === 0) return;
  stopDriving();
  busy(true);
  ui.faces.replaceChildren();
  ui.result.replaceChildren();
  send(
    { type: 'photos', photos: list },
    list.map((p) => p.rgba.buffer),
  );
}

async function filesChosen(files: FileList | File[]): Promise<void> {
  const list = [];
  const problems: string[] = [];
  for (const f of Array.from(files)) {
    try {
      list.push(await pixelsOf(f, f.name, PHOTO_MAX));
    } catch {
      problems.push(`${f.name}: not an image this browser can read (use JPEG or PNG)`);
    }
  }
  usePhotos(list, problems);
}

function li(text: string): HTMLLIElement {
  const e = document.createElement('li');
  e.textContent = text;
  return e;
}

function showFaces(accepted: FaceCrop[], rejected: { name: string; reason: string }[]): void {
  ui.faces.replaceChildren(
    ...accepted.map((f) => {
      const fig = tile(f.rgb, f.size, f.name, 'face');
      drawLandmarks(fig.querySelector('canvas')!, f.landmarks, f.size);
      return fig;
    }),
  );
  ui.rejected.append(...rejected.map((r) => li(r.reason)));
  if (accepted.length === 0) busy(false);
}

// ---- camera --------------------------------------------------------------------------------------

let stream: MediaStream | null = null;
async function startCamera(): Promise<HTMLVideoElement> {
  if (!stream) {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    ui.camera.srcObject = stream;
    await ui.camera.play();
    // the first frame sets the size: until then there is nothing to grab
    while (ui.camera.videoWidth === 0) await new Promise((r) => setTimeout(r, 20));
  }
  return ui.camera;
}

const snapshots: (Pixels & { name: string })[] = [];
ui.snapshot.onclick = async () => {
  try {
    const v = await startCamera();
    snapshots.push(await pixelsOf(v, `snapshot ${snapshots.length + 1}`, PHOTO_MAX));
    ui.useSnapshots.disabled = false;
    ui.useSnapshots.textContent = `Use ${snapshots.length} snapshot${snapshots.length > 1 ? 's' : ''}`;
  } catch (e) {
    showError(`Webcam: ${(e as Error).message}`);
  }
};
ui.useSnapshots.onclick = () => usePhotos(snapshots.splice(0));

// ---- driving -------------------------------------------------------------------------------------
//
// A driver frame goes to the engine worker (tracking, retargeting), its landmarks to a free render
// worker (G'), the frame back here. Up to one frame per render worker is in flight, so with two
// render workers on two cores frames are generated side by side; frames are shown in order (one
// that arrives after a newer one is dropped).

interface Renderer {
  worker: Worker;
  busy: boolean;
  loaded: boolean;
}
const renderers: Renderer[] = [];
let modelBytes: Uint8Array | null = null;

function startRenderers(backend: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const r: Renderer = {
      worker: new Worker(new URL('./render_worker.js', import.meta.url), {
        type: 'module',
        name: `render-${i}`,
      }),
      busy: false,
      loaded: false,
    };
    r.worker.onmessage = (e: MessageEvent<FromRender>) => fromRenderer(r, e.data);
    r.worker.postMessage({ type: 'init', backend } satisfies ToRender);
    renderers.push(r);
  }
}

let driving: 'camera' | 'clip' | null = null;
let clip: { width: number; height: number; fps: number; frames: Uint8Array[] } | null = null;
let clipStart = 0;
let seq = 0;
let inFlight = 0;
const arrivals: number[] = [];
let resolution = 0;

/** Issues driver frames until every render worker has one coming. */
function pump(): void {
  while (driving && inFlight < renderers.length + 1) {
    inFlight++;
    seq++;
    const retarget = ui.retarget.checked;
    if (driving === 'clip' && clip) {
      const index = Math.floor(((performance.now() - clipStart) / 1000) * clip.fps) % clip.frames.length;
      drawRgb(ui.driver, clip.frames[index]!, clip.width, clip.height);
      send({ type: 'drive', seq, source: 'clip', index, retarget });
    } else if (driving === 'camera') {
      const v = ui.camera;
      const k = Math.min(1, CAMERA_MAX / Math.max(v.videoWidth, v.videoHeight));
      const side = Math.min(v.videoWidth, v.videoHeight);
      ui.driver
        .getContext('2d')!
        .drawImage(v, (v.videoWidth - side) / 2, (v.videoHeight - side) / 2, side, side, 0, 0, 256, 256);
      const n = seq;
      createImageBitmap(v, {
        resizeWidth: Math.round(v.videoWidth * k),
        resizeHeight: Math.round(v.videoHeight * k),
      })
        .then((image) => send({ type: 'drive', seq: n, source: 'camera', image, retarget }, [image]))
        .catch((e: unknown) => {
          showError(`Webcam: ${(e as Error).message}`);
          stopDriving();
        });
    }
  }
}

/**
 * Finished frames by sequence number (null: no face in that driver frame), shown strictly in order:
 * two render workers finish out of order now and then, and a frame dropped for being late would be
 * a generator call wasted.
 */
const finished = new Map<number, Uint8Array | null>();
let showNext = 1;

function show(): void {
  while (finished.has(showNext)) {
    const rgb = finished.get(showNext)!;
    finished.delete(showNext++);
    if (!rgb) {
      stats.faceMisses++;
      ui.fps.textContent = 'no face in the driver frame';
      continue;
    }
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length && arrivals[0]! < now - 1000) arrivals.shift();
    stats.fps = arrivals.length;
    stats.outputFrames++;
    drawRgb(ui.output, rgb, resolution, resolution);
    ui.fps.textContent = `${stats.fps} frames/s`;
  }
}

/** Landmarks waiting for a render worker (the engine works one frame ahead of them). */
const waiting: { seq: number; landmarks: Float32Array }[] = [];

/** The engine's landmarks for a driver frame: to a free render worker, or in line for one. */
function target(n: number, landmarks: Float32Array | null, ms: number): void {
  stats.lastMs.track = ms;
  if (!driving || !landmarks) {
    inFlight--;
    if (driving && n >= showNext) {
      finished.set(n, null);
      show();
    }
    pump();
    return;
  }
  waiting.push({ seq: n, landmarks });
  dispatch();
}

function dispatch(): void {
  for (const r of renderers) {
    const next = r.busy ? undefined : waiting.shift();
    if (!next) continue;
    r.busy = true;
    r.worker.postMessage({ type: 'render', ...next } satisfies ToRender, [next.landmarks.buffer]);
  }
}

function fromRenderer(r: Renderer, m: FromRender): void {
  switch (m.type) {
    case 'ready':
      break;
    case 'memory':
      renderMemory.shift()?.(m);
      break;
    case 'loaded':
      r.loaded = true;
      if (renderers.every((x) => x.loaded)) busy(false);
      break;
    case 'rendered': {
      r.busy = false;
      inFlight--;
      stats.lastMs.generate = m.ms;
      if (driving && m.seq >= showNext) {
        finished.set(m.seq, m.rgb);
        show();
      }
      dispatch();
      pump();
      break;
    }
    case 'error':
      r.busy = false;
      inFlight--;
      stopDriving();
      showError(`render: ${m.message}`);
      break;
  }
}

async function startDriving(source: 'camera' | 'clip'): Promise<void> {
  stopDriving();
  if (source === 'camera') {
    try {
      await startCamera();
    } catch (e) {
      showError(`Webcam: ${(e as Error).message}`);
      return;
    }
  } else if (!clip) {
    send({ type: 'clip' });
    await new Promise<void>((res) => (clipWaiter = res));
  }
  send({ type: 'drive-reset' });
  driving = source;
  clipStart = performance.now();
  arrivals.length = 0;
  showNext = seq + 1;
  finished.clear();
  ui.driveStop.disabled = false;
  ui.record.disabled = false;
  pump();
}
let clipWaiter: (() => void) | null = null;

function stopDriving(): void {
  driving = null;
  inFlight -= waiting.length;
  waiting.length = 0;
  ui.driveStop.disabled = true;
  if (recorder?.state === 'recording') recorder.stop();
  ui.record.disabled = true;
  ui.fps.textContent = '–';
}

ui.retarget.onchange = () => send({ type: 'drive-reset' });
ui.driveCamera.onclick = () => void startDriving('camera');
ui.driveClip.onclick = () => void startDriving('clip');
ui.driveStop.onclick = () => stopDriving();

let recorder: MediaRecorder | null = null;
ui.record.onclick = () => {
  if (recorder?.state === 'recording') {
    recorder.stop();
    return;
  }
  const chunks: Blob[] = [];
  recorder = new MediaRecorder(ui.output.captureStream(25), { mimeType: 'video/webm' });
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = () => {
    const url = URL.createObjectURL(new Blob(chunks, { type: 'video/webm' }));
    ui.downloadVideo.href = url;
    ui.downloadVideo.classList.remove('hidden');
    ui.record.textContent = 'Record';
  };
  recorder.start(250);
  ui.record.textContent = 'Stop recording';
};

// ---- model ---------------------------------------------------------------------------------------

ui.finetune.onclick = () => {
  stopDriving();
  busy(true);
  ui.cancel.disabled = false;
  ui.progress.value = 0;
  send({ type: 'finetune', epochs: Number(ui.epochs.value) });
};
ui.cancel.onclick = () => {
  ui.cancel.disabled = true;
  send({ type: 'cancel' });
};
ui.downloadModel.onclick = () => {
  if (modelBytes) download(modelBytes, modelName, 'application/octet-stream');
};
let modelName = '';

function download(bytes: Uint8Array, name: string, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  a.download = name;
  a.click();
}

/** While the worker is busy with photos or fine-tuning, the buttons that would queue more wait. */
function busy(on: boolean): void {
  for (const b of [ui.finetune, ui.driveCamera, ui.driveClip, ui.downloadModel, ui.snapshot, ui.useSnapshots])
    b.disabled = on;
  ui.photos.disabled = on;
  if (!on) {
    ui.snapshot.disabled = !stats.ready;
    ui.useSnapshots.disabled = snapshots.length === 0;
    const has = stats.personMode !== '';
    for (const b of [ui.finetune, ui.driveCamera, ui.driveClip, ui.downloadModel]) b.disabled = !has;
  }
}

function showError(text: string): void {
  stats.errors.push(text);
  ui.status.textContent = text;
  ui.status.classList.add('error');
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'ready': {
      const i = m.info;
      stats.ready = true;
      stats.backend = i.backend;
      stats.threads = i.threads;
      ui.backend.textContent =
        i.backend === 'wasm'
          ? `wasm (${i.threads} thread${i.threads === 1 ? '' : 's'}${i.simd ? ', SIMD' : ''})`
          : i.backend;
      ui.status.textContent = `model ${i.model} (${i.preset}, ${i.resolution}px) ready in ${(i.loadMs / 1000).toFixed(1)} s`;
      resolution = i.resolution;
      // wasm: a single-threaded render worker per core, up to 4 (frames side by side); a GPU: one
      startRenderers(
        i.backend,
        i.backend === 'wasm' ? Math.min(4, Math.max(1, navigator.hardwareConcurrency)) : 1,
      );
      busy(false);
      break;
    }
    case 'status':
      ui.status.textContent = m.text;
      break;
    case 'faces':
      showFaces(m.accepted, m.rejected);
      break;
    case 'person': {
      stats.personMode = m.mode;
      stats.personSteps = m.steps;
      ui.result.replaceChildren(
        ...m.frames.map((f, i) => tile(f, m.resolution, `${m.mode} ${i + 1}`, 'generated')),
      );
      ui.mode.textContent =
        m.mode === 'feed-forward'
          ? `Feed-forward model (no training) in ${(m.ms / 1000).toFixed(1)} s.`
          : `Fine-tuned: ${m.steps} steps in ${(m.ms / 1000).toFixed(0)} s${m.stopped === 'done' ? '' : ` (${m.stopped})`}.`;
      ui.status.textContent = `your ${m.mode} model is ready: drive it below`;
      ui.progress.value = m.mode === 'fine-tuned' ? ui.progress.max : 0;
      ui.cancel.disabled = true;
      // the new model to the render workers (busy until they have it)
      modelBytes = null;
      send({ type: 'export' });
      break;
    }
    case 'progress':
      ui.progress.max = m.total;
      ui.progress.value = m.step;
      ui.progressText.textContent = `step ${m.step}/${m.total}`;
      break;
    case 'clip':
      clip = m;
      clipWaiter?.();
      break;
    case 'target':
      target(m.seq, m.landmarks, m.ms);
      break;
    case 'model':
      modelBytes = m.bytes;
      modelName = m.name;
      for (const r of renderers) {
        r.loaded = false;
        r.worker.postMessage({ type: 'model', bytes: m.bytes } satisfies ToRender);
      }
      break;
    case 'memory':
      memoryWaiter?.({ tensors: m.tensors, bytes: m.bytes });
      memoryWaiter = null;
      break;
    case 'error':
      if (m.during === 'drive') {
        inFlight--;
        stopDriving();
      }
      showError(`${m.message}`);
      busy(false);
      break;
  }
};

ui.photos.onchange = () => {
  if (ui.photos.files) void filesChosen(ui.photos.files);
  ui.photos.value = '';
};
ui.drop.ondragover = (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
};
ui.drop.ondragleave = () => ui.drop.classList.remove('over');
ui.drop.ondrop = (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  if (e.dataTransfer?.files) void filesChosen(e.dataTransfer.files);
};

busy(true);
const params = new URLSearchParams(location.search);
send({ type: 'init', backend: params.get('backend'), model: params.get('model') });
