/**
 * The page: photos in, a personalised talking head out, driven live. A thin layer over the engine
 * worker (worker.ts), which runs the project's library; this file only moves pixels between the
 * camera, the worker and canvases, and keeps the buttons honest.
 */
import { drawLandmarks, li, tile } from './draw.js';
import { Drive, type Memory } from './drive.js';
import { Camera, PHOTO_MAX, pixelsOf } from './pixels.js';
import type { FaceCrop, FromWorker, Pixels, ToWorker } from './protocol.js';

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
  /** the meta-trained model the page runs, and its resolution */
  model: '',
  resolution: 0,
  personMode: '' as string,
  personSteps: 0,
  outputFrames: 0,
  faceMisses: 0,
  fps: 0,
  lastMs: { track: 0, generate: 0 },
  errors: [] as string[],
};
const camera = new Camera(ui.camera);
let recorder: MediaRecorder | null = null;
const drive = new Drive({
  send,
  camera,
  ui,
  stats,
  showError,
  onLoaded: () => busy(false),
  onStop: () => {
    if (recorder?.state === 'recording') recorder.stop();
  },
});

let memoryWaiter: ((m: Memory) => void) | null = null;
/** TF.js tensors and bytes held by the engine worker and, separately, by the render workers. */
async function memory(): Promise<{ engine: Memory; render: Memory }> {
  const engine = new Promise<Memory>((res) => (memoryWaiter = res));
  send({ type: 'memory' });
  const render = await drive.memory();
  return { engine: await engine, render };
}
(window as unknown as { talkingHeads: unknown }).talkingHeads = { stats, memory };

// ---- photos --------------------------------------------------------------------------------------

/** `problems`: photos that could not be read, listed with the faces' rejections. */
function usePhotos(list: (Pixels & { name: string })[], problems: string[] = []): void {
  const notes = [...problems];
  if (list.length > 8) {
    notes.push(`Using the first 8 of ${list.length} photos.`);
    list = list.slice(0, 8);
  }
  ui.rejected.replaceChildren(...notes.map(li));
  if (list.length === 0) return;
  drive.stop();
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

const snapshots: (Pixels & { name: string })[] = [];
ui.snapshot.onclick = async () => {
  try {
    const v = await camera.start();
    snapshots.push(await pixelsOf(v, `snapshot ${snapshots.length + 1}`, PHOTO_MAX));
    ui.useSnapshots.disabled = false;
    ui.useSnapshots.textContent = `Use ${snapshots.length} snapshot${snapshots.length > 1 ? 's' : ''}`;
  } catch (e) {
    showError(`Webcam: ${(e as Error).message}`);
  }
};
ui.useSnapshots.onclick = () => usePhotos(snapshots.splice(0));

// ---- driving and recording -----------------------------------------------------------------------

ui.retarget.onchange = () => send({ type: 'drive-reset' });
ui.driveCamera.onclick = () => void drive.start('camera');
ui.driveClip.onclick = () => void drive.start('clip');
ui.driveStop.onclick = () => drive.stop();

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

let modelBytes: Uint8Array | null = null;
let modelName = '';

ui.finetune.onclick = () => {
  drive.stop();
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
      // which engine and which model the page runs, for as long as it runs them
      ui.backend.textContent =
        (i.backend === 'wasm'
          ? `wasm (${i.threads} thread${i.threads === 1 ? '' : 's'}${i.simd ? ', SIMD' : ''})`
          : i.backend) + ` · model ${i.model} (${i.preset}, ${i.resolution}px)`;
      ui.status.textContent = `model ${i.model} (${i.preset}, ${i.resolution}px) ready in ${(i.loadMs / 1000).toFixed(1)} s`;
      drive.resolution = i.resolution;
      stats.model = i.model;
      stats.resolution = i.resolution;
      // wasm: a single-threaded render worker per core, up to 4 (frames side by side); a GPU: one
      drive.startRenderers(
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
      drive.clipArrived(m);
      break;
    case 'target':
      drive.target(m.seq, m.landmarks, m.ms);
      break;
    case 'model':
      modelBytes = m.bytes;
      modelName = m.name;
      drive.loadModel(m.bytes);
      break;
    case 'memory':
      memoryWaiter?.({ tensors: m.tensors, bytes: m.bytes });
      memoryWaiter = null;
      break;
    case 'error':
      if (m.during === 'drive') drive.failed();
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
