/**
 * Driving the personalised model live. A driver frame (camera or clip) goes to the engine worker
 * (tracking, retargeting), its landmarks to a free render worker (G'), the frame back here. Up to
 * one frame per render worker is in flight, so with two render workers on two cores frames are
 * generated side by side; frames are shown in order (one that arrives after a newer one is dropped).
 */
import { drawMark, drawRgb } from './draw.js';
import { CAMERA_MAX, type Camera } from './pixels.js';
import type { FromRender, FromWorker, ToRender, ToWorker } from './protocol.js';

export type Memory = { tensors: number; bytes: number };
type Clip = Extract<FromWorker, { type: 'clip' }>;

interface Renderer {
  worker: Worker;
  busy: boolean;
  loaded: boolean;
}

/** What driving needs of the page. */
export interface DriveDeps {
  send: (m: ToWorker, transfer?: Transferable[]) => void;
  camera: Camera;
  ui: {
    driver: HTMLCanvasElement;
    output: HTMLCanvasElement;
    fps: HTMLElement;
    retarget: HTMLInputElement;
    driveStop: HTMLButtonElement;
    record: HTMLButtonElement;
  };
  /** what tests and the benchmark read */
  stats: {
    faceMisses: number;
    fps: number;
    outputFrames: number;
    lastMs: { track: number; generate: number };
  };
  showError: (text: string) => void;
  /** every render worker has the current model */
  onLoaded: () => void;
  /** driving stopped (a recording in progress ends with it) */
  onStop: () => void;
}

export class Drive {
  private readonly renderers: Renderer[] = [];
  private source: 'camera' | 'clip' | null = null;
  private clip: Clip | null = null;
  private clipWaiter: (() => void) | null = null;
  private clipStart = 0;
  private seq = 0;
  private inFlight = 0;
  private readonly arrivals: number[] = [];
  /** the model's resolution */
  resolution = 0;
  /**
   * Finished frames by sequence number (null: no face in that driver frame), shown strictly in
   * order: two render workers finish out of order now and then, and a frame dropped for being late
   * would be a generator call wasted.
   */
  private readonly finished = new Map<number, Uint8Array | null>();
  private showNext = 1;
  /** Landmarks waiting for a render worker (the engine works one frame ahead of them). */
  private readonly waiting: { seq: number; landmarks: Float32Array }[] = [];
  private readonly memoryWaiters: ((m: Memory) => void)[] = [];

  constructor(private readonly d: DriveDeps) {}

  /** `n` render workers on `backend`. */
  startRenderers(backend: string, n: number): void {
    for (let i = 0; i < n; i++) {
      const r: Renderer = {
        worker: new Worker(new URL('./render_worker.js', import.meta.url), {
          type: 'module',
          name: `render-${i}`,
        }),
        busy: false,
        loaded: false,
      };
      r.worker.onmessage = (e: MessageEvent<FromRender>) => this.fromRenderer(r, e.data);
      r.worker.postMessage({ type: 'init', backend } satisfies ToRender);
      this.renderers.push(r);
    }
  }

  /** A new personal model for every render worker (onLoaded when all have it). */
  loadModel(bytes: Uint8Array): void {
    for (const r of this.renderers) {
      r.loaded = false;
      r.worker.postMessage({ type: 'model', bytes } satisfies ToRender);
    }
  }

  /** TF.js tensors and bytes held by the render workers together. */
  async memory(): Promise<Memory> {
    const parts = await Promise.all(
      this.renderers.map((r) => {
        const p = new Promise<Memory>((res) => this.memoryWaiters.push(res));
        r.worker.postMessage({ type: 'memory' } satisfies ToRender);
        return p;
      }),
    );
    return parts.reduce((a, b) => ({ tensors: a.tensors + b.tensors, bytes: a.bytes + b.bytes }), {
      tensors: 0,
      bytes: 0,
    });
  }

  /** The engine worker's clip of a driving person arrived. */
  clipArrived(c: Clip): void {
    this.clip = c;
    this.clipWaiter?.();
  }

  async start(source: 'camera' | 'clip'): Promise<void> {
    this.stop();
    if (source === 'camera') {
      try {
        await this.d.camera.start();
      } catch (e) {
        this.d.showError(`Webcam: ${(e as Error).message}`);
        return;
      }
    } else if (!this.clip) {
      this.d.send({ type: 'clip' });
      await new Promise<void>((res) => (this.clipWaiter = res));
    }
    this.d.send({ type: 'drive-reset' });
    this.source = source;
    this.clipStart = performance.now();
    this.arrivals.length = 0;
    this.showNext = this.seq + 1;
    this.finished.clear();
    this.d.ui.driveStop.disabled = false;
    this.d.ui.record.disabled = false;
    this.pump();
  }

  stop(): void {
    this.source = null;
    this.inFlight -= this.waiting.length;
    this.waiting.length = 0;
    this.d.ui.driveStop.disabled = true;
    this.d.onStop();
    this.d.ui.record.disabled = true;
    this.d.ui.fps.textContent = '–';
  }

  /** The engine failed on a driver frame: that frame is not coming. */
  failed(): void {
    this.inFlight--;
    this.stop();
  }

  /** The engine's landmarks for a driver frame: to a free render worker, or in line for one. */
  target(n: number, landmarks: Float32Array | null, ms: number): void {
    this.d.stats.lastMs.track = ms;
    if (!this.source || !landmarks) {
      this.inFlight--;
      if (this.source && n >= this.showNext) {
        this.finished.set(n, null);
        this.show();
      }
      this.pump();
      return;
    }
    this.waiting.push({ seq: n, landmarks });
    this.dispatch();
  }

  /** Issues driver frames until every render worker has one coming. */
  private pump(): void {
    const { ui, send } = this.d;
    while (this.source && this.inFlight < this.renderers.length + 1) {
      this.inFlight++;
      const seq = ++this.seq;
      const retarget = ui.retarget.checked;
      if (this.source === 'clip' && this.clip) {
        const c = this.clip;
        const index = Math.floor(((performance.now() - this.clipStart) / 1000) * c.fps) % c.frames.length;
        drawRgb(ui.driver, c.frames[index]!, c.width, c.height);
        send({ type: 'drive', seq, source: 'clip', index, retarget });
      } else if (this.source === 'camera') {
        const v = this.d.camera.video;
        const k = Math.min(1, CAMERA_MAX / Math.max(v.videoWidth, v.videoHeight));
        const side = Math.min(v.videoWidth, v.videoHeight);
        ui.driver
          .getContext('2d')!
          .drawImage(v, (v.videoWidth - side) / 2, (v.videoHeight - side) / 2, side, side, 0, 0, 256, 256);
        createImageBitmap(v, {
          resizeWidth: Math.round(v.videoWidth * k),
          resizeHeight: Math.round(v.videoHeight * k),
        })
          .then((image) => send({ type: 'drive', seq, source: 'camera', image, retarget }, [image]))
          .catch((e: unknown) => {
            this.d.showError(`Webcam: ${(e as Error).message}`);
            this.stop();
          });
      }
    }
  }

  private show(): void {
    const { stats, ui } = this.d;
    while (this.finished.has(this.showNext)) {
      const rgb = this.finished.get(this.showNext)!;
      this.finished.delete(this.showNext++);
      if (!rgb) {
        stats.faceMisses++;
        ui.fps.textContent = 'no face in the driver frame';
        continue;
      }
      const now = performance.now();
      this.arrivals.push(now);
      while (this.arrivals.length && this.arrivals[0]! < now - 1000) this.arrivals.shift();
      stats.fps = this.arrivals.length;
      stats.outputFrames++;
      drawRgb(ui.output, rgb, this.resolution, this.resolution);
      drawMark(ui.output);
      ui.fps.textContent = `${stats.fps} frames/s`;
    }
  }

  private dispatch(): void {
    for (const r of this.renderers) {
      const next = r.busy ? undefined : this.waiting.shift();
      if (!next) continue;
      r.busy = true;
      r.worker.postMessage({ type: 'render', ...next } satisfies ToRender, [next.landmarks.buffer]);
    }
  }

  private fromRenderer(r: Renderer, m: FromRender): void {
    switch (m.type) {
      case 'ready':
        break;
      case 'memory':
        this.memoryWaiters.shift()?.(m);
        break;
      case 'loaded':
        r.loaded = true;
        if (this.renderers.every((x) => x.loaded)) this.d.onLoaded();
        break;
      case 'rendered': {
        r.busy = false;
        this.inFlight--;
        this.d.stats.lastMs.generate = m.ms;
        if (this.source && m.seq >= this.showNext) {
          this.finished.set(m.seq, m.rgb);
          this.show();
        }
        this.dispatch();
        this.pump();
        break;
      }
      case 'error':
        r.busy = false;
        this.inFlight--;
        this.stop();
        this.d.showError(`render: ${m.message}`);
        break;
    }
  }
}
