/**
 * `talking-heads evaluate`: the paper's self-reenactment protocol (sec. 4, docs/design.md sec. 6). Per test
 * video and T in {1, 8, 32}: T frames make a person's model, the video's last 32 frames (disjoint
 * from them) are synthesised from their landmarks and scored against the real frames. Methods:
 *
 *   untrained     the feed-forward recipe on random weights (what meta-learning buys)
 *   copy          the T frame whose landmarks are nearest the target's, shown as it is (a baseline
 *                 any method must beat on pose)
 *   feed-forward  psi' = P e_NEW, nothing trained (FF)
 *   fine-tuned    G and D fine-tuned on the T frames (FT)
 *
 * Metrics: SSIM and PSNR (metrics.ts), CSIM-faceapi per frame and FD-faceapi over all frames of a
 * (method, T) (identity.ts; the paper's ArcFace and Inception-v3 cannot be downloaded here). Each
 * (video, T) is written to UNITS/ as it finishes, so an interrupted run resumes where it stopped;
 * the tables (the paper's Table 1 layout with its numbers beside, and Table 2's timings) are made
 * from those files.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset, heldOutIdentities } from '../data/dataset.js';
import { framesFromDatasetAt } from '../data/fewshot.js';
import { InputError } from '../core/errors.js';
import { drawText } from '../media/font.js';
import { LANDMARK_VALUES, landmarkSet, rasterizeLandmarks } from '../faces/landmarks.js';
import { cut, grid, paste, readPng, upscale, writePng, type RgbImage } from '../media/png.js';
import { writeSyntheticDataset } from '../synthetic/write.js';
import { renderTrack } from '../animate/animate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { meanPointDistance } from '../faces/track.js';
import { FineTuneConfigSchema, type FineTuneConfig } from '../train/finetune.js';
import type { MetaModel } from '../train/model.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { fitGaussian, frechetDistance, frechetDistanceOfSamples, cosineSimilarity } from './frechet.js';
import type { ArcFace } from '../pretrained/arcface.js';
import { INCEPTION_FEATURES, type InceptionV3 } from '../pretrained/inception.js';
import { disposePersonModels, personModels, type Method } from './heldout.js';
import { CSIM_NAME, FD_NAME, faceDescriptors } from './identity.js';
import { meanQuality } from './metrics.js';

export const EVAL_METHODS = ['untrained', 'copy', 'feed-forward', 'fine-tuned'] as const;
export type EvalMethod = (typeof EVAL_METHODS)[number];

/** The paper's Table 1 (VoxCeleb2; FID, SSIM, CSIM, USER) for its FF and FT rows (docs/design.md sec. 6). */
export const PAPER_TABLE1: Record<string, { fid: number; ssim: number; csim: number; user: number }> = {
  'feed-forward 1': { fid: 46.1, ssim: 0.61, csim: 0.42, user: 0.43 },
  'fine-tuned 1': { fid: 48.5, ssim: 0.64, csim: 0.35, user: 0.46 },
  'feed-forward 8': { fid: 42.2, ssim: 0.64, csim: 0.47, user: 0.4 },
  'fine-tuned 8': { fid: 42.2, ssim: 0.68, csim: 0.42, user: 0.39 },
  'feed-forward 32': { fid: 40.4, ssim: 0.65, csim: 0.48, user: 0.38 },
  'fine-tuned 32': { fid: 30.6, ssim: 0.72, csim: 0.45, user: 0.33 },
};
/** The paper's Table 2 timings (one P40): fine-tuning seconds per T, generator seconds per frame. */
export const PAPER_TIMING = {
  fineTune: { 1: 43.8, 8: 85.5, 32: 258 } as Record<number, number>,
  frame: 0.139,
};

export interface EvaluateOptions {
  /** a dataset folder, or null: a procedural test set (identities the model never saw) in OUT/testset */
  data: string | null;
  out: string;
  videos: number;
  Ts: number[];
  /** hold-out frames per video */
  frames: number;
  /** fine-tuning recipe; `maxSteps` caps a fine-tune (T = 32 would otherwise take 4x T = 8's time) */
  finetune: Partial<FineTuneConfig>;
  maxSteps: number;
  seed: number;
  /** Inception-v3 with the user's weights: adds the FID column (inception.ts) */
  inception?: InceptionV3 | null;
  /** ArcFace with the user's weights: adds the CSIM column (arcface.ts) */
  arcface?: ArcFace | null;
}

export const DEFAULT_EVALUATE = { videos: 50, Ts: [1, 8, 32], frames: 32, maxSteps: 160, seed: 0 };

interface MethodResult {
  ssim: number;
  psnr: number;
  csim: number;
  /** CSIM with ArcFace, when evaluate had its weights */
  csimArcface?: number;
  /** face-api descriptors of the generated frames (for FD-faceapi), rounded */
  descriptors: number[][];
}

/** What one (video, T) leaves in UNITS/. */
export interface UnitResult {
  video: string;
  identity: string;
  T: number;
  trainFrames: number[];
  evalFrames: number[];
  methods: Record<EvalMethod, MethodResult>;
  realDescriptors: number[][];
  seconds: { feedForward: number; fineTune: number; generatorPerFrame: number };
  fineTuneSteps: number;
}

/** The procedural test set: `videos` identities from 1000 on (never in a training set), one video each. */
export async function proceduralTestSet(
  dir: string,
  videos: number,
  resolution: number,
  frames: number,
): Promise<Dataset> {
  if (!existsSync(join(dir, 'manifest.json')) || Dataset.open(dir).numVideos < videos)
    await writeSyntheticDataset({
      out: dir,
      identities: videos,
      sequences: 1,
      frames,
      size: resolution,
      seed: 0,
      frameStep: 2,
      firstIdentity: 1000,
      resume: existsSync(join(dir, 'manifest.json')),
    });
  return Dataset.open(dir);
}

/** T training frames spread over the video's first part; the last `frames` frames are the hold-out. */
export function protocolFrames(
  length: number,
  T: number,
  frames: number,
): { train: number[]; hold: number[] } {
  const pool = length - frames;
  if (pool < T)
    throw new InputError(
      `A test video has ${length} frames: T = ${T} and ${frames} hold-out frames need ${T + frames}`,
    );
  return {
    train: Array.from({ length: T }, (_, i) => Math.floor(((i + 0.5) * pool) / T)),
    hold: Array.from({ length: frames }, (_, i) => pool + i),
  };
}

const round = (d: Float32Array) => Array.from(d, (v) => Math.round(v * 1e5) / 1e5);
/** A unit's hold-out frames as rows (CLIP_ROWS) of one PNG, for the user study. */
export const CLIP_ROWS = ['real', 'feed-forward', 'fine-tuned'] as const;
export const clipsFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}-frames.png`);

export function clipsStrip(clips: Record<(typeof CLIP_ROWS)[number], RgbImage[]>): RgbImage {
  return grid(
    CLIP_ROWS.flatMap((row) => clips[row]),
    clips.real.length,
    0,
  );
}

/** The frames a unit's clips PNG holds: per row name, its frames. */
export function readClips(path: string): Record<(typeof CLIP_ROWS)[number], RgbImage[]> {
  const im = readPng(readFileSync(path));
  const r = im.height / CLIP_ROWS.length;
  const n = im.width / r;
  const out = {} as Record<(typeof CLIP_ROWS)[number], RgbImage[]>;
  CLIP_ROWS.forEach((row, j) => {
    out[row] = Array.from({ length: n }, (_, i) => cut(im, i * r, j * r, r, r));
  });
  return out;
}

export const inceptionFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}-inception.safetensors`);

function saveInception(path: string, f: Record<string, Float32Array[]>): void {
  const tensors = new Map(
    Object.entries(f).map(([k, xs]) => {
      const data = new Float32Array(xs.length * INCEPTION_FEATURES);
      xs.forEach((x, i) => data.set(x, i * INCEPTION_FEATURES));
      return [k, { shape: [xs.length, INCEPTION_FEATURES], data }];
    }),
  );
  writeFileAtomic(path, encodeSafetensors(tensors));
}

function loadInception(path: string): Record<string, Float32Array[]> {
  const out: Record<string, Float32Array[]> = {};
  for (const [k, t] of decodeSafetensors(readFileSync(path)).tensors) {
    const n = t.shape[0]!;
    out[k] = Array.from({ length: n }, (_, i) =>
      (t.data as Float32Array).slice(i * INCEPTION_FEATURES, (i + 1) * INCEPTION_FEATURES),
    );
  }
  return out;
}

export const unitFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}.json`);

/**
 * Runs the protocol for one (video, T): the four methods' frames, their scores and descriptors, and
 * the timings. Returns the unit (also written to UNITS/) and the images for the sheet.
 */
export async function evaluateUnit(
  meta: MetaModel,
  untrained: MetaModel,
  ds: Dataset,
  video: number,
  T: number,
  o: Pick<EvaluateOptions, 'frames' | 'finetune' | 'maxSteps' | 'inception' | 'arcface'>,
): Promise<{
  /** pool3 features of the real frames and each method's, when `o.inception` */
  inception: Record<EvalMethod | 'real', Float32Array[]> | null;
  unit: UnitResult;
  images: Record<EvalMethod | 'real' | 'landmarks' | 'given', RgbImage>;
  /** every hold-out frame: real, feed-forward, fine-tuned (for the user study) */
  clips: Record<'real' | 'feed-forward' | 'fine-tuned', RgbImage[]>;
}> {
  const v = ds.video(video);
  const { train, hold } = protocolFrames(v.frames, T, o.frames);
  const r = ds.resolution;
  const fb = r * r * 3;
  const person = framesFromDatasetAt(ds, video, train);
  const base = FineTuneConfigSchema.parse(o.finetune);
  const perEpoch = Math.ceil(T / base.batch);
  const cfg = { ...base, epochs: Math.max(1, Math.min(base.epochs, Math.floor(o.maxSteps / perEpoch))) };
  const pm = await personModels(meta, untrained, person, cfg);
  try {
    const lms = new Float32Array(hold.length * LANDMARK_VALUES);
    const real: RgbImage[] = hold.map((f, i) => {
      lms.set(ds.frameLandmarks(video, f), i * LANDMARK_VALUES);
      return { width: r, height: r, data: ds.readFrames(video, f, 1) };
    });
    const outputs = {} as Record<EvalMethod, RgbImage[]>;
    let generatorSeconds = 0;
    for (const m of ['untrained', 'feed-forward', 'fine-tuned'] as Method[]) {
      const t0 = performance.now();
      outputs[m] = renderTrack(pm.models[m], lms);
      if (m === 'fine-tuned') generatorSeconds = (performance.now() - t0) / 1000;
    }
    // copy: the given frame whose landmarks are nearest each target's
    outputs.copy = hold.map((_, i) => {
      const target = landmarkSet(lms, i);
      const d = train.map((_f, k) => meanPointDistance(landmarkSet(person.landmarks, k), target));
      const best = d.indexOf(Math.min(...d));
      return { width: r, height: r, data: person.rgb.slice(best * fb, (best + 1) * fb) };
    });
    const realD = faceDescriptors(real);
    const realA = o.arcface ? o.arcface.embed(real) : null;
    const methods = {} as Record<EvalMethod, MethodResult>;
    for (const m of EVAL_METHODS) {
      const ims = outputs[m];
      const d = faceDescriptors(ims);
      const mean = (f: (i: number) => number) => ims.reduce((s, _, i) => s + f(i), 0) / ims.length;
      methods[m] = {
        ...meanQuality(ims, real),
        csim: mean((i) => cosineSimilarity(d[i]!, realD[i]!)),
        descriptors: d.map(round),
      };
      if (o.arcface && realA) {
        const a = o.arcface.embed(ims);
        methods[m].csimArcface = mean((i) => cosineSimilarity(a[i]!, realA[i]!));
      }
    }
    const lm0 = { width: r, height: r, data: rasterizeLandmarks(lms.subarray(0, LANDMARK_VALUES), r) };
    const images = {
      given: { width: r, height: r, data: person.rgb.slice(0, fb) },
      landmarks: lm0,
      real: real[0]!,
      untrained: outputs.untrained[0]!,
      copy: outputs.copy[0]!,
      'feed-forward': outputs['feed-forward'][0]!,
      'fine-tuned': outputs['fine-tuned'][0]!,
    };
    const unit: UnitResult = {
      video: v.id,
      identity: v.identity,
      T,
      trainFrames: train,
      evalFrames: hold,
      methods,
      realDescriptors: realD.map(round),
      seconds: {
        feedForward: pm.seconds['feed-forward'],
        fineTune: pm.seconds['fine-tuned'],
        generatorPerFrame: generatorSeconds / hold.length,
      },
      fineTuneSteps: pm.fineTuneSteps,
    };
    let inception: Record<EvalMethod | 'real', Float32Array[]> | null = null;
    if (o.inception) {
      const net = o.inception;
      inception = { real: net.features(real) } as Record<EvalMethod | 'real', Float32Array[]>;
      for (const m of EVAL_METHODS) inception[m] = net.features(outputs[m]);
    }
    return {
      inception,
      unit,
      images,
      clips: { real, 'feed-forward': outputs['feed-forward'], 'fine-tuned': outputs['fine-tuned'] },
    };
  } finally {
    disposePersonModels(pm);
  }
}

export function saveUnit(out: string, u: UnitResult): void {
  mkdirSync(join(out, 'units'), { recursive: true });
  writeFileAtomic(unitFile(out, u.video, u.T), JSON.stringify(u) + '\n');
}

export function loadUnit(out: string, video: string, T: number): UnitResult | null {
  const f = unitFile(out, video, T);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as UnitResult;
  } catch {
    return null; // a damaged file is redone
  }
}

export interface TableRow {
  method: EvalMethod;
  T: number;
  videos: number;
  fd: number;
  /** FID (Inception-v3 pool3), when every unit of this T has its features */
  fid?: number;
  /** CSIM with ArcFace, when every unit of this T has it */
  csimArcface?: number;
  ssim: number;
  psnr: number;
  csim: number;
}

/** Means per (method, T) and FD-faceapi over all their frames. */
export function summarise(units: UnitResult[], Ts: number[], out?: string): TableRow[] {
  const rows: TableRow[] = [];
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (us.length === 0) continue;
    const real = fitGaussian(us.flatMap((u) => u.realDescriptors));
    const files = out ? us.map((u) => inceptionFile(out, u.video, u.T)) : [];
    const inc = files.length && files.every(existsSync) ? files.map(loadInception) : null;
    for (const method of EVAL_METHODS) {
      const m = us.map((u) => u.methods[method]);
      const mean = (k: 'ssim' | 'psnr' | 'csim') => m.reduce((s, x) => s + x[k], 0) / m.length;
      rows.push({
        method,
        T,
        videos: us.length,
        fd: frechetDistance(fitGaussian(m.flatMap((x) => x.descriptors)), real),
        // 2048-D features, a few hundred frames: the sample route (frechet.ts)
        ...(inc
          ? {
              fid: frechetDistanceOfSamples(
                inc.flatMap((f) => f[method]!),
                inc.flatMap((f) => f['real']!),
              ),
            }
          : {}),
        ssim: mean('ssim'),
        psnr: mean('psnr'),
        csim: mean('csim'),
        ...(m.every((x) => x.csimArcface !== undefined)
          ? { csimArcface: m.reduce((t, x) => t + x.csimArcface!, 0) / m.length }
          : {}),
      });
    }
  }
  return rows;
}

/** The paper's Table 1 layout: our rows, and the paper's numbers where it has the row. */
export function table1(rows: TableRow[], title: string): string {
  const withFid = rows.some((r) => r.fid !== undefined);
  const withArc = rows.some((r) => r.csimArcface !== undefined);
  const lines = [
    title,
    `${'method'.padEnd(13)} ${'T'.padStart(3)}  ${withFid ? `${'FID'.padStart(8)}  ` : ''}${FD_NAME.padStart(10)}  ${'SSIM'.padStart(6)}  ${'PSNR'.padStart(6)}  ${CSIM_NAME.padStart(12)}${withArc ? '    CSIM' : ''}   | paper (VoxCeleb2): FID   SSIM  CSIM  USER`,
  ];
  for (const r of rows) {
    const p = PAPER_TABLE1[`${r.method} ${r.T}`];
    lines.push(
      `${r.method.padEnd(13)} ${String(r.T).padStart(3)}  ${withFid ? `${(r.fid ?? NaN).toFixed(2).padStart(8)}  ` : ''}${r.fd.toFixed(3).padStart(10)}  ${r.ssim.toFixed(3).padStart(6)}  ${r.psnr.toFixed(2).padStart(6)}  ${r.csim.toFixed(3).padStart(12)}${withArc ? (r.csimArcface ?? NaN).toFixed(3).padStart(8) : ''}   |` +
        (p
          ? `                    ${p.fid.toFixed(1).padStart(4)}  ${p.ssim.toFixed(2)}  ${p.csim.toFixed(2)}  ${p.user.toFixed(2)}`
          : ''),
    );
  }
  lines.push(
    `Not comparable column to column: the paper's data is VoxCeleb2 at 256px and its features Inception-v3 (FID) and ArcFace (CSIM); ` +
      `here ${FD_NAME} and ${CSIM_NAME} use face-api's face-recognition descriptor. Compare rows within this table. ` +
      `USER: see talking-heads user-study.`,
  );
  return lines.join('\n');
}

/** Table 2's layout: this run's timings beside the paper's (one P40). */
export function table2(units: UnitResult[], Ts: number[], backend: string): string {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const row = (what: string, ours: string, paper: string) => `${what.padEnd(26)} ${ours.padEnd(22)} ${paper}`;
  const lines = [`Timing on ${backend}`, row('', 'this run', 'paper (one P40)')];
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (!us.length) continue;
    const steps = mean(us.map((u) => u.fineTuneSteps)).toFixed(0);
    const s = mean(us.map((u) => u.seconds.fineTune)).toFixed(1);
    lines.push(
      row(`fine-tuning, T = ${T}`, `${s} s (${steps} steps)`, `${PAPER_TIMING.fineTune[T] ?? '-'} s`),
    );
  }
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (us.length)
      lines.push(
        row(
          `feed-forward, T = ${T}`,
          `${mean(us.map((u) => u.seconds.feedForward)).toFixed(2)} s`,
          '0.06-0.22 s',
        ),
      );
  }
  const ms = (1000 * mean(units.map((u) => u.seconds.generatorPerFrame))).toFixed(1);
  lines.push(row('generator per frame', `${ms} ms`, `${PAPER_TIMING.frame * 1000} ms`));
  return lines.join('\n');
}

const SHEET_COLUMNS = [
  'given',
  'landmarks',
  'real',
  'copy',
  'untrained',
  'feed-forward',
  'fine-tuned',
] as const;

/** One unit's examples as a strip (given frame, target landmarks, real, then each method), kept in UNITS/. */
function strip(images: Record<(typeof SHEET_COLUMNS)[number], RgbImage>): RgbImage {
  return grid(
    SHEET_COLUMNS.map((c) => images[c]),
    SHEET_COLUMNS.length,
    0,
  );
}

/** The examples sheet of one T: a labelled column per method, a row per video (its first hold-out frame). */
export function examplesSheet(strips: RgbImage[], T: number, scale = 2): RgbImage {
  const n = SHEET_COLUMNS.length;
  const small = strips[0]!.width / n;
  const r = small * scale;
  const gap = 4;
  const top = 30;
  const w = n * (r + gap);
  const h = top + strips.length * (r + gap);
  const im: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) };
  drawText(
    im,
    `T = ${T}: THE FIRST HOLD-OUT FRAME OF EACH TEST VIDEO. GENERATED COLUMNS ARE SYNTHETIC.`,
    2,
    2,
  );
  SHEET_COLUMNS.forEach((c, j) => drawText(im, c.toUpperCase(), j * (r + gap) + 2, 16));
  strips.forEach((s, i) => {
    for (let j = 0; j < n; j++)
      paste(im, upscale(cut(s, j * small, 0, small, small), scale), j * (r + gap), top + i * (r + gap));
  });
  return im;
}

export interface EvaluateReport {
  rows: TableRow[];
  units: UnitResult[];
  table1: string;
  table2: string;
  sheets: string[];
  json: string;
  data: string;
}

/**
 * The whole protocol: every (video, T) not already in OUT/units is run (`onUnit` after each, for
 * progress), then the tables, OUT/evaluation.json and OUT/examples-T{T}.png are written.
 */
export async function runEvaluate(
  meta: MetaModel,
  untrained: MetaModel,
  o: EvaluateOptions,
  backend: string,
  onUnit?: (done: number, total: number, u: UnitResult, resumed: boolean) => void,
): Promise<EvaluateReport> {
  mkdirSync(o.out, { recursive: true });
  const length = Math.max(...o.Ts) + o.frames;
  const ds = o.data
    ? Dataset.open(o.data)
    : await proceduralTestSet(join(o.out, 'testset'), o.videos, meta.net.resolution, length);
  if (ds.resolution !== meta.net.resolution)
    throw new InputError(`The test data is ${ds.resolution}px and the model ${meta.net.resolution}px`);
  // A dataset that records its held-out people (preprocess --hold-out) is tested on those only:
  // the people meta-learning never saw.
  const held = o.data ? heldOutIdentities(ds.manifest) : null;
  const videos = ds.videos
    .map((_, i) => i)
    .filter((v) => ds.video(v).frames >= length && (!held?.length || held.includes(ds.video(v).identity)));
  if (videos.length === 0)
    throw new InputError(
      `No video of "${ds.dir}" has the ${length} frames T = ${Math.max(...o.Ts)} and ${o.frames} hold-out frames need`,
    );
  // one video per identity, the first ones by name
  const seen = new Set<string>();
  const chosen = videos
    .filter((v) => !seen.has(ds.video(v).identity) && seen.add(ds.video(v).identity))
    .slice(0, o.videos);
  const units: UnitResult[] = [];
  const total = chosen.length * o.Ts.length;
  for (const T of o.Ts)
    for (const v of chosen) {
      const id = ds.video(v).id;
      let unit = loadUnit(o.out, id, T);
      const resumed = unit !== null;
      if (!unit) {
        const res = await evaluateUnit(meta, untrained, ds, v, T, o);
        unit = res.unit;
        writePng(unitFile(o.out, id, T).replace(/\.json$/, '.png'), strip(res.images));
        writePng(clipsFile(o.out, id, T), clipsStrip(res.clips));
        if (res.inception) saveInception(inceptionFile(o.out, id, T), res.inception);
        saveUnit(o.out, unit);
      }
      units.push(unit);
      onUnit?.(units.length, total, unit, resumed);
    }
  const rows = summarise(units, o.Ts, o.out);
  const title = `Self-reenactment: ${chosen.length} test videos of ${ds.dir}${held?.length ? ' (its held-out people)' : ''}, ${o.frames} hold-out frames each; model ${meta.source} (step ${meta.step}); ${backend}`;
  const t1 = table1(rows, title);
  const t2 = table2(units, o.Ts, backend);
  const sheets: string[] = [];
  for (const T of o.Ts) {
    const strips = chosen
      .slice(0, 8)
      .map((v) => unitFile(o.out, ds.video(v).id, T).replace(/\.json$/, '.png'))
      .filter(existsSync)
      .map((f) => readPng(readFileSync(f)));
    if (!strips.length) continue;
    const path = join(o.out, `examples-T${T}.png`);
    writePng(path, examplesSheet(strips, T));
    sheets.push(path);
  }
  const json = join(o.out, 'evaluation.json');
  writeFileAtomic(
    json,
    JSON.stringify(
      {
        model: meta.source,
        modelSha256: meta.hash,
        step: meta.step,
        data: ds.dir,
        backend,
        options: o,
        metrics: { fd: FD_NAME, csim: CSIM_NAME },
        rows,
        paper: PAPER_TABLE1,
        timing: units.map((u) => ({ video: u.video, T: u.T, ...u.seconds, fineTuneSteps: u.fineTuneSteps })),
      },
      null,
      1,
    ) + '\n',
  );
  return { rows, units, table1: t1, table2: t2, sheets, json, data: ds.dir };
}
