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
import { renderTrack } from '../animate/animate.js';
import { InputError } from '../core/errors.js';
import { Dataset, heldOutIdentities } from '../data/dataset.js';
import { framesFromDatasetAt, type FewShotFrames } from '../data/fewshot.js';
import { LANDMARK_VALUES, landmarkSet, rasterizeLandmarks } from '../faces/landmarks.js';
import { meanPointDistance } from '../faces/track.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readPng, writePng, type RgbImage } from '../media/png.js';
import type { ArcFace } from '../pretrained/arcface.js';
import type { InceptionV3 } from '../pretrained/inception.js';
import { writeSyntheticDataset } from '../synthetic/write.js';
import { anchorWeight, FineTuneConfigSchema, type FineTuneConfig } from '../train/finetune.js';
import type { MetaModel } from '../train/model.js';
import { cosineSimilarity } from './frechet.js';
import { disposePersonModels, personModels, type Method, type PersonModels } from './heldout.js';
import { CSIM_NAME, FD_NAME, faceDescriptors } from './identity.js';
import { meanQuality } from './metrics.js';
import {
  examplesSheet,
  PAPER_TABLE1,
  SHEET_COLUMNS,
  strip,
  summarise,
  table1,
  table2,
  type TableRow,
} from './tables.js';
import {
  CLIP_ROWS,
  clipsFile,
  clipsStrip,
  EVAL_METHODS,
  inceptionFile,
  loadUnit,
  round,
  saveInception,
  saveUnit,
  unitFile,
  type EvalMethod,
  type MethodResult,
  type UnitResult,
} from './units.js';
import { syntheticTag } from '../media/provenance.js';

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

/** The hold-out frames of one test video: the real ones and their landmarks. */
interface HoldOut {
  real: RgbImage[];
  /** [frames * 136] */
  landmarks: Float32Array;
}

function holdOut(ds: Dataset, video: number, hold: number[]): HoldOut {
  const r = ds.resolution;
  const landmarks = new Float32Array(hold.length * LANDMARK_VALUES);
  const real = hold.map((f, i) => {
    landmarks.set(ds.frameLandmarks(video, f), i * LANDMARK_VALUES);
    return { width: r, height: r, data: ds.readFrames(video, f, 1) };
  });
  return { real, landmarks };
}

/** Each method's frames for the hold-out landmarks, and G's seconds per frame (fine-tuned). */
function renderMethods(
  pm: PersonModels,
  person: FewShotFrames,
  h: HoldOut,
): { outputs: Record<EvalMethod, RgbImage[]>; generatorPerFrame: number } {
  const r = person.resolution;
  const fb = r * r * 3;
  const outputs = {} as Record<EvalMethod, RgbImage[]>;
  let seconds = 0;
  for (const m of ['untrained', 'feed-forward', 'fine-tuned'] as Method[]) {
    const t0 = performance.now();
    // float32 whatever the CPU: scores comparable across machines (engine/precision.ts)
    outputs[m] = renderTrack(pm.models[m], h.landmarks, undefined, { float32: true });
    if (m === 'fine-tuned') seconds = (performance.now() - t0) / 1000;
  }
  // copy: the given frame whose landmarks are nearest each target's
  outputs.copy = h.real.map((_, i) => {
    const target = landmarkSet(h.landmarks, i);
    const d = Array.from({ length: person.count }, (_f, k) =>
      meanPointDistance(landmarkSet(person.landmarks, k), target),
    );
    const best = d.indexOf(Math.min(...d));
    return { width: r, height: r, data: person.rgb.slice(best * fb, (best + 1) * fb) };
  });
  return { outputs, generatorPerFrame: seconds / h.real.length };
}

/** SSIM, PSNR and CSIM of each method against the real frames (and ArcFace's CSIM when given). */
function scoreMethods(
  outputs: Record<EvalMethod, RgbImage[]>,
  real: RgbImage[],
  realD: Float32Array[],
  arcface: ArcFace | null | undefined,
): Record<EvalMethod, MethodResult> {
  const realA = arcface ? arcface.embed(real) : null;
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
    if (arcface && realA) {
      const a = arcface.embed(ims);
      methods[m].csimArcface = mean((i) => cosineSimilarity(a[i]!, realA[i]!));
    }
  }
  return methods;
}

export interface UnitOutput {
  unit: UnitResult;
  /** pool3 features of the real frames and each method's, when `o.inception` */
  inception: Record<EvalMethod | 'real', Float32Array[]> | null;
  /** the first hold-out frame's row of the examples sheet */
  images: Record<(typeof SHEET_COLUMNS)[number], RgbImage>;
  /** every hold-out frame: real, feed-forward, fine-tuned (for the user study) */
  clips: Record<(typeof CLIP_ROWS)[number], RgbImage[]>;
}

/**
 * Runs the protocol for one (video, T): T frames make the person's models (feed-forward, fine-tuned
 * and untrained), the hold-out frames are rendered by each method and scored against the real ones.
 */
export async function evaluateUnit(
  meta: MetaModel,
  untrained: MetaModel,
  ds: Dataset,
  video: number,
  T: number,
  o: Pick<EvaluateOptions, 'frames' | 'finetune' | 'maxSteps' | 'inception' | 'arcface'>,
): Promise<UnitOutput> {
  const v = ds.video(video);
  const { train, hold } = protocolFrames(v.frames, T, o.frames);
  const r = ds.resolution;
  const person = framesFromDatasetAt(ds, video, train);
  const base = FineTuneConfigSchema.parse(o.finetune);
  const perEpoch = Math.ceil(T / base.batch);
  const cfg = { ...base, epochs: Math.max(1, Math.min(base.epochs, Math.floor(o.maxSteps / perEpoch))) };
  const pm = await personModels(meta, untrained, person, cfg);
  try {
    const h = holdOut(ds, video, hold);
    const { outputs, generatorPerFrame } = renderMethods(pm, person, h);
    const realD = faceDescriptors(h.real);
    const unit: UnitResult = {
      video: v.id,
      identity: v.identity,
      T,
      trainFrames: train,
      evalFrames: hold,
      methods: scoreMethods(outputs, h.real, realD, o.arcface),
      realDescriptors: realD.map(round),
      seconds: {
        feedForward: pm.seconds['feed-forward'],
        fineTune: pm.seconds['fine-tuned'],
        generatorPerFrame,
      },
      fineTuneSteps: pm.fineTuneSteps,
    };
    let inception: UnitOutput['inception'] = null;
    if (o.inception) {
      const net = o.inception;
      inception = { real: net.features(h.real) } as Record<EvalMethod | 'real', Float32Array[]>;
      for (const m of EVAL_METHODS) inception[m] = net.features(outputs[m]);
    }
    const images = {
      given: { width: r, height: r, data: person.rgb.slice(0, r * r * 3) },
      landmarks: { width: r, height: r, data: rasterizeLandmarks(landmarkSet(h.landmarks, 0), r) },
      real: h.real[0]!,
      untrained: outputs.untrained[0]!,
      copy: outputs.copy[0]!,
      'feed-forward': outputs['feed-forward'][0]!,
      'fine-tuned': outputs['fine-tuned'][0]!,
    };
    const clips = {
      real: h.real,
      'feed-forward': outputs['feed-forward'],
      'fine-tuned': outputs['fine-tuned'],
    };
    return { unit, inception, images, clips };
  } finally {
    disposePersonModels(pm);
  }
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
  const tag = syntheticTag(`${meta.source}, personalised for evaluation`);
  for (const T of o.Ts)
    for (const v of chosen) {
      const id = ds.video(v).id;
      let unit = loadUnit(o.out, id, T);
      const resumed = unit !== null;
      if (!unit) {
        const res = await evaluateUnit(meta, untrained, ds, v, T, o);
        unit = res.unit;
        writePng(unitFile(o.out, id, T).replace(/\.json$/, '.png'), strip(res.images), tag);
        writePng(clipsFile(o.out, id, T), clipsStrip(res.clips), tag);
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
    writePng(path, examplesSheet(strips, T), tag);
    sheets.push(path);
  }
  const json = join(o.out, 'evaluation.json');
  const recipe = FineTuneConfigSchema.parse(o.finetune);
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
        // the fine-tuning recipe the options resolve to (its defaults change as they are measured)
        fineTuning: Object.fromEntries(
          o.Ts.map((T) => [`T${T}`, { ...recipe, anchor: anchorWeight(recipe.anchor, meta.net, T) }]),
        ),
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
