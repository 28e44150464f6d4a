/**
 * The demo (the README's main job): what the system is for, end to end, with a shipped model.
 *
 *   1. a person: by default a real one whom the real-face models never saw in meta-learning
 *      (London Set person 004, assets/demo/: the neutral photo is given, the smiling one is the
 *      real target); with `procedural`, a procedural identity; or the user's photos
 *   2. their T frames -> personal models: untrained, feed-forward (psi' = P e_NEW) and fine-tuned
 *      (sec. 3.3), with a progress bar
 *   3. drives: (a) their own expression whose real frame is known (self-reenactment: the smile; the
 *      procedural person's hold-out motion) and (b) another person's motion, retargeted onto their
 *      face: a held-out GRID speaker's clip with its sound, the user's video, or a procedural head
 *   4. out/demo.mp4, out/demo.gif, out/demo.png (driver | landmarks | feed-forward | fine-tuned |
 *      real), the fine-tuned model (out/demo-person.safetensors), and the table of SSIM and PSNR
 *      against the real frame(s). Every picture and video is tagged and marked synthetic.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDriver } from '../animate/drivers.js';
import { renderTrack } from '../animate/animate.js';
import { openOutput } from '../animate/output.js';
import { checkOutput } from '../core/output.js';
import { neutralShape, Retargeter } from '../faces/retarget.js';
import { framesFromPhotos, type FaceChoice, type FewShotFrames } from '../data/fewshot.js';
import { InputError } from '../core/errors.js';
import { drawText, textWidth } from '../media/font.js';
import { LANDMARK_VALUES, landmarkSet, rasterizeLandmarks, stackLandmarks } from '../faces/landmarks.js';
import { paste, upscale, writePng, type RgbImage } from '../media/png.js';
import { syntheticTag, watermark } from '../media/provenance.js';
import { renderVideo } from '../synthetic/worker.js';
import {
  disposePersonModels,
  METHODS,
  personModels,
  scoreAgainst,
  scoreTable,
  untrainedModel,
  type Method,
  type Scores,
} from '../eval/heldout.js';
import { savePersonalModel } from '../models/personal.js';
import { FineTuneConfigSchema, type FineTuneHooks } from '../train/finetune.js';
import { disposeModel, loadMetaModel, type MetaModel } from '../train/model.js';

export interface DemoOptions {
  model: string;
  /** the procedural person and driver (the demo before real-face models) */
  procedural?: boolean | undefined;
  out: string;
  seed: number;
  T: number;
  /** frames per drive */
  frames: number;
  photos?: string | undefined;
  face?: FaceChoice | undefined;
  driver?: string | undefined;
  /** fine-tuning epochs (default: fine-tune's; paper: 40) */
  epochs?: number | undefined;
  /** pixels per model pixel in the video and sheet */
  scale?: number | undefined;
}

export interface DemoResult {
  outputs: string[];
  /** SSIM and PSNR per method on the self-reenactment's real frames (null with photos) */
  scores: Record<Method, Scores> | null;
  seconds: { fineTune: number; total: number };
}

/** A drive: per frame, what the generator is given and what it made. */
interface Drive {
  title: string;
  driver: RgbImage[];
  landmarks: Float32Array;
  /** the real frames where known (null: not known at that frame; the row: none known) */
  real: (RgbImage | null)[] | null;
  outputs: Partial<Record<Method, RgbImage[]>>;
  fps: number;
}

/** The demo's real material (assets/demo/, with its licences): a held-out London person, a GRID clip. */
export const DEMO_ASSETS = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const LONDON_CREDIT =
  'Face Research Lab London Set (DeBruine & Jones 2017, doi:10.6084/m9.figshare.5047666.v5), CC BY 4.0';
const GRID_CREDIT = 'GRID audio-visual corpus (Cooke et al. 2006), CC BY 4.0';
/** The model the real-person demo uses by default. */
export const DEMO_REAL_MODEL = 'real-64px';

/** Identities of the demo: far from the training data's (0-199) and the test set's (1000-1019). */
const DEMO_IDENTITY = 5000;
/** The procedural world's generator seed (the training data's). */
const WORLD_SEED = 0;

function procedural(identity: number, frames: number, size: number) {
  return renderVideo({ seed: WORLD_SEED, identity, sequence: 0, frames, size, frameStep: 1 });
}

const tile = (data: Uint8Array, r: number): RgbImage => ({ width: r, height: r, data });

/** Retargets driver landmarks onto the person's face (their T frames' neutral shape). */
function retargeted(person: FewShotFrames, driver: Float32Array, n: number): Float32Array {
  const rt = new Retargeter(
    neutralShape(person.landmarks, person.count),
    neutralShape(driver.subarray(0, Math.min(n, 25) * LANDMARK_VALUES), Math.min(n, 25)),
  );
  const out = new Float32Array(n * LANDMARK_VALUES);
  for (let i = 0; i < n; i++) rt.map(landmarkSet(driver, i), landmarkSet(out, i));
  return out;
}

/** A user's driver video: its frames with a face, cropped at the model's resolution (up to `max`). */
async function videoDrive(
  path: string,
  r: number,
  max: number,
): Promise<{ images: RgbImage[]; lms: Float32Array; fps: number; audio: string | null }> {
  const d = openDriver(path, { resolution: r });
  const images: RgbImage[] = [];
  const lms: Float32Array[] = [];
  let last: Float32Array | null = null;
  for await (const f of d.frames) {
    const lm: Float32Array | null = f.landmarks ?? last;
    if (!lm) continue;
    last = lm;
    images.push(tile(f.image ?? new Uint8Array(r * r * 3), r));
    lms.push(lm);
    if (images.length >= max) break;
  }
  if (images.length === 0)
    throw new InputError(`Driver "${path}" has no frame with a face. Use a video where a face is visible.`);
  return { images, lms: stackLandmarks(lms), fps: d.fps, audio: d.audio };
}

/** Labelled composite of one time step: a header, then per drive driver | landmarks | FF | FT | real. */
function composite(drives: Drive[], i: number, r: number, scale: number): RgbImage {
  const cols = ['DRIVER', 'LANDMARKS', 'FEED-FORWARD', 'FINE-TUNED', 'REAL'];
  const s = r * scale;
  const head = 8 * Math.max(1, scale - 1) + 6;
  const w = cols.length * s;
  const h = head + drives.length * s;
  const im: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) };
  const ts = Math.max(1, scale - 1);
  cols.forEach((c, j) =>
    drawText(im, c, j * s + Math.max(0, (s - textWidth(c, ts)) >> 1), 3, [40, 40, 40], ts),
  );
  drives.forEach((d, row) => {
    const k = Math.min(i, d.driver.length - 1);
    const lm = tile(rasterizeLandmarks(landmarkSet(d.landmarks, k), r), r);
    const parts = [
      d.driver[k]!,
      lm,
      d.outputs['feed-forward']![k]!,
      d.outputs['fine-tuned']![k]!,
      d.real?.[k] ?? null,
    ];
    parts.forEach((p, j) => {
      // the generated columns carry the visible mark (provenance.ts), drawn at the shown size
      const generated = j === 2 || j === 3;
      if (!p) {
        const t = 'NOT KNOWN';
        drawText(
          im,
          t,
          j * s + ((s - textWidth(t, ts)) >> 1),
          head + row * s + (s >> 1),
          [150, 150, 150],
          ts,
        );
        return;
      }
      paste(im, generated ? watermark(upscale(p, scale)) : upscale(p, scale), j * s, head + row * s);
    });
    drawText(im, d.title, 3, head + row * s + 3, [255, 255, 255], ts);
  });
  return im;
}

/** The sheet: the T frames, then per drive rows driver / landmarks / FF / FT / real at 8 moments. */
function sheet(person: FewShotFrames, drives: Drive[], r: number, scale: number): RgbImage {
  const n = 8;
  const label = 150;
  const gap = 4;
  const s = r * scale;
  const rowsOf = (d: Drive) => (d.real ? 5 : 4);
  const blocks = [1, ...drives.map(rowsOf)];
  const titleH = 22;
  const w = label + n * (s + gap);
  const h = blocks.reduce((a, b) => a + titleH + b * (s + gap), 0);
  const im: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) };
  const put = (p: RgbImage, x: number, y: number, mark = false) =>
    paste(im, mark ? watermark(upscale(p, scale)) : upscale(p, scale), x, y);
  let y = 0;
  const fb = r * r * 3;
  drawText(im, `THE ${person.count} FRAME(S) GIVEN (T = ${person.count})`, 4, y + 7, [0, 0, 0], 1);
  y += titleH;
  for (let t = 0; t < Math.min(n, person.count); t++)
    put(tile(person.rgb.slice(t * fb, (t + 1) * fb), r), label + t * (s + gap), y);
  y += s + gap;
  for (const d of drives) {
    drawText(im, d.title, 4, y + 7, [0, 0, 0], 1);
    y += titleH;
    const at = Array.from({ length: n }, (_, j) => Math.round((j * (d.driver.length - 1)) / (n - 1)));
    const rows: [string, (k: number) => RgbImage | null][] = [
      ['DRIVER', (k) => d.driver[k]!],
      ['LANDMARKS', (k) => tile(rasterizeLandmarks(landmarkSet(d.landmarks, k), r), r)],
      ['FEED-FORWARD', (k) => d.outputs['feed-forward']![k]!],
      ['FINE-TUNED', (k) => d.outputs['fine-tuned']![k]!],
    ];
    if (d.real) rows.push(['REAL', (k) => d.real![k] ?? null]);
    for (const [name, get] of rows) {
      drawText(im, name, 4, y + (s >> 1) - 3, [0, 0, 0], 1);
      at.forEach((k, j) => {
        const p = get(k);
        if (p) put(p, label + j * (s + gap), y, name === 'FEED-FORWARD' || name === 'FINE-TUNED');
      });
      y += s + gap;
    }
  }
  return im;
}

/** Who the demo learns, the frames it is given, and the drive whose real frames are known. */
interface Subject {
  person: FewShotFrames;
  /** the self-reenactment (null: no real frame known, e.g. the user's photos) */
  self: { drive: Drive; landmarks: Float32Array; real: Uint8Array } | null;
}

/**
 * London Set person 004: the neutral photo given (T = 1), the smiling photo the real target. The
 * self drive moves the landmarks from the neutral photo's to the smiling one's (two thirds of the
 * frames), then holds the smile, where the real frame is shown beside.
 */
async function londonSubject(r: number, frames: number, log: (s: string) => void): Promise<Subject> {
  const dir = join(DEMO_ASSETS, 'london');
  const person = await framesFromPhotos(join(dir, 'neutral', '004.jpg'), r, { max: 1 });
  const target = await framesFromPhotos(join(dir, 'smiling', '004.jpg'), r, { max: 1 });
  const n = Math.max(4, Math.min(frames, 40));
  const ramp = Math.round((2 * n) / 3);
  const landmarks = new Float32Array(n * LANDMARK_VALUES);
  for (let i = 0; i < n; i++) {
    const t = Math.min(1, i / (ramp - 1));
    const out = landmarkSet(landmarks, i);
    for (let k = 0; k < LANDMARK_VALUES; k++)
      out[k] = (1 - t) * person.landmarks[k]! + t * target.landmarks[k]!;
  }
  const given = tile(person.rgb, r);
  const smile = tile(target.rgb, r);
  const drive: Drive = {
    title: 'OWN SMILE',
    driver: Array.from({ length: n }, (_, i) => (i < ramp ? given : smile)),
    landmarks,
    real: Array.from({ length: n }, (_, i) => (i < ramp ? null : smile)),
    outputs: {},
    fps: 25,
  };
  log(
    `Person: London Set person 004, whom the real-face models never saw in meta-learning: the neutral photo is given (T = 1), the smiling photo is the real target.\n  Photos: ${LONDON_CREDIT}`,
  );
  return { person, self: { drive, landmarks: target.landmarks, real: target.rgb } };
}

/** A procedural identity the model never saw: T frames, then its hold-out motion (paper sec. 4). */
function proceduralSubject(o: DemoOptions, r: number, n: number, log: (s: string) => void): Subject {
  const targetId = DEMO_IDENTITY + 2 * o.seed;
  const fb = r * r * 3;
  const T = o.T;
  // T frames spread over the first 10T frames (25 fps: 3.2 s for T = 8, so the mouth opens in
  // some), the hold-out motion right after them, from the same video
  const stride = 10;
  const v = procedural(targetId, stride * T + n, r);
  const idx = Array.from({ length: T }, (_, i) => stride * i);
  const rgb = new Uint8Array(T * fb);
  const lms = new Float32Array(T * LANDMARK_VALUES);
  idx.forEach((f, i) => {
    rgb.set(v.frames.subarray(f * fb, (f + 1) * fb), i * fb);
    lms.set(landmarkSet(v.landmarks, f), i * LANDMARK_VALUES);
  });
  const person: FewShotFrames = {
    rgb,
    landmarks: lms,
    count: T,
    resolution: r,
    source: `procedural identity ${targetId}`,
    indices: idx,
  };
  const landmarks = v.landmarks.slice(stride * T * LANDMARK_VALUES);
  const real = v.frames.slice(stride * T * fb);
  const frames = Array.from({ length: n }, (_, i) => tile(real.slice(i * fb, (i + 1) * fb), r));
  log(
    `Person: procedural identity ${targetId} (never seen in meta-learning): T = ${T} frames, ${n} hold-out frames`,
  );
  return {
    person,
    self: {
      drive: { title: 'SELF', driver: frames, landmarks, real: frames, outputs: {}, fps: 25 },
      landmarks,
      real,
    },
  };
}

export async function runDemo(
  o: DemoOptions,
  hooks: FineTuneHooks & { log?: (s: string) => void } = {},
): Promise<DemoResult> {
  const log = hooks.log ?? console.log;
  const t0 = performance.now();
  const files = ['demo.mp4', 'demo.gif', 'demo.png', 'demo-person.safetensors'].map((f) => join(o.out, f));
  for (const f of files) checkOutput(f, true, false);
  const meta: MetaModel = loadMetaModel(o.model);
  const untrained = untrainedModel(meta, o.seed);
  const r = meta.net.resolution;
  const fb = r * r * 3;
  const scale = o.scale ?? Math.max(1, Math.round(192 / r));
  const n = o.frames;
  const tag = syntheticTag(`${o.model} -> demo-person.safetensors`);
  try {
    log(
      `Model: ${meta.source} (preset ${meta.config.preset}, ${r}px, ${meta.config.variant.toUpperCase()}, ${meta.step} meta-learning steps)`,
    );
    // 1. the person
    let subject: Subject;
    if (o.photos) {
      const person = await framesFromPhotos(o.photos, r, { face: o.face, max: o.T, log });
      log(`Person: ${person.count} photo(s) from ${o.photos}`);
      subject = { person, self: null };
    } else if (o.procedural) subject = proceduralSubject(o, r, n, log);
    else subject = await londonSubject(r, n, log);
    const { person } = subject;
    // 2. personal models
    const cfg = FineTuneConfigSchema.parse({ epochs: o.epochs, seed: o.seed });
    const tf0 = performance.now();
    const pm = await personModels(meta, untrained, person, cfg, hooks);
    const fineTune = (performance.now() - tf0) / 1000;
    try {
      savePersonalModel(files[3]!, pm.models['fine-tuned']);
      // 3. drives
      const drives: Drive[] = [];
      let scores: Record<Method, Scores> | null = null;
      if (subject.self) {
        const { drive, landmarks, real } = subject.self;
        scores = {} as Record<Method, Scores>;
        for (const m of METHODS) {
          const s = scoreAgainst(pm.models[m], landmarks, real);
          scores[m] = { ssim: s.ssim, psnr: s.psnr, frames: s.frames };
        }
        for (const k of ['feed-forward', 'fine-tuned'] as const)
          drive.outputs[k] = renderTrack(pm.models[k], drive.landmarks);
        drives.push(drive);
      }
      let other: { images: RgbImage[]; lms: Float32Array; fps: number; audio: string | null };
      if (o.driver || !o.procedural) {
        const path = o.driver ?? join(DEMO_ASSETS, 'grid', 'sbia1a.mp4');
        other = await videoDrive(path, r, n);
        if (!o.driver)
          log(
            `Driver: GRID clip sbia1a ("set blue in a one again"; its speaker held out of meta-learning), retargeted onto the person, with its sound.\n  Clip: ${GRID_CREDIT}`,
          );
      } else {
        const v = procedural(DEMO_IDENTITY + 2 * o.seed + 1, n, r);
        other = {
          images: Array.from({ length: n }, (_, i) => tile(v.frames.slice(i * fb, (i + 1) * fb), r)),
          lms: v.landmarks,
          fps: 25,
          audio: null,
        };
      }
      const m = other.images.length;
      const lms = retargeted(person, other.lms, m);
      const d: Drive = {
        title: o.driver ? 'VIDEO' : o.procedural ? 'OTHER' : 'GRID SPEAKER',
        driver: other.images,
        landmarks: lms,
        real: null,
        outputs: {},
        fps: other.fps,
      };
      for (const k of ['feed-forward', 'fine-tuned'] as const) d.outputs[k] = renderTrack(pm.models[k], lms);
      drives.push(d);
      // 4. outputs: each composite frame is made once and goes to both the MP4 and the GIF
      const frames = Math.max(...drives.map((x) => x.driver.length));
      const writers = files
        .slice(0, 2)
        .map((f) => openOutput(f, { fps: drives[0]!.fps, force: true, tag, audio: other.audio }));
      try {
        for (let i = 0; i < frames; i++) {
          const im = composite(drives, i, r, scale);
          for (const w of writers) await w.write(im);
        }
        for (const w of writers) await w.close();
      } catch (e) {
        for (const w of writers) w.abort();
        throw e;
      }
      writePng(files[2]!, sheet(person, drives, r, Math.max(1, scale - 1)), tag);
      if (scores) log(`\n${scoreTable(scores, subject.self!.real.length / fb)}`);
      else log('\nNo hold-out frames of this person (photos): no table; look at the drive in the outputs.');
      log(`\nWrote ${files.join(', ')} (generated frames are synthetic, marked and tagged so)`);
      log(
        `Drive the person with any video: talking-heads animate --model ${files[3]} --driver VIDEO -o out.mp4 --side-by-side --watermark`,
      );
      return { outputs: files, scores, seconds: { fineTune, total: (performance.now() - t0) / 1000 } };
    } finally {
      disposePersonModels(pm);
    }
  } finally {
    disposeModel(untrained);
    disposeModel(meta);
  }
}
