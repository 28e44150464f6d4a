/**
 * Few-shot quality on hold-out frames (paper sec. 4, docs/design.md sec. 6): a person's model made from
 * T frames synthesises other frames of that person from their landmarks, and the results are
 * compared with the real frames (SSIM, PSNR). Three methods, as the demo's and the model card's
 * tables name them:
 *
 *   untrained     the feed-forward recipe on randomly initialised E and G (what meta-learning buys)
 *   feed-forward  psi' = P e_NEW from the meta-trained model, nothing trained (sec. 3.3, FF)
 *   fine-tuned    then G and D fine-tuned on the T frames (sec. 3.3)
 */
import type { FewShotFrames } from '../data/fewshot.js';
import type { Dataset } from '../data/dataset.js';
import { fewShotSet, splitByIdentity } from '../data/episodes.js';
import type { RgbImage } from '../media/png.js';
import { disposePersonal, type PersonalModel } from '../models/personal.js';
import { renderTrack } from '../animate/animate.js';
import {
  disposePersonalised,
  personalise,
  type FineTuneConfig,
  type FineTuneHooks,
} from '../train/finetune.js';
import { initMetaParams } from '../train/meta_step.js';
import type { MetaModel } from '../train/model.js';
import { meanQuality } from './metrics.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';

export const METHODS = ['untrained', 'feed-forward', 'fine-tuned'] as const;
export type Method = (typeof METHODS)[number];

export interface Scores {
  /** means over the frames */
  ssim: number;
  psnr: number;
  frames: number;
}

/** A model of the same preset with random weights (seeded): the `untrained` baseline. Dispose with disposeModel. */
export function untrainedModel(meta: MetaModel, seed = 0): MetaModel {
  const { params, sn } = initMetaParams(meta.net, meta.columns, seed);
  return { ...meta, source: 'untrained (random weights)', hash: 'untrained', step: 0, params, sn };
}

export interface PersonModels {
  models: Record<Method, PersonalModel>;
  /** seconds spent on each */
  seconds: Record<Method, number>;
  fineTuneSteps: number;
}

/** The three personal models of one person from the same T frames. Dispose with disposePersonModels. */
export async function personModels(
  meta: MetaModel,
  untrained: MetaModel,
  frames: FewShotFrames,
  cfg: FineTuneConfig,
  hooks: FineTuneHooks = {},
): Promise<PersonModels> {
  const seconds = {} as Record<Method, number>;
  const models = {} as Record<Method, PersonalModel>;
  const make = async (m: Method, from: MetaModel, finetune: boolean) => {
    const t0 = performance.now();
    const p = await personalise(from, frames, { ...cfg, finetune }, null, finetune ? hooks : {});
    if (p.stopped !== 'done') {
      disposePersonal(p.model);
      disposePersonalised(p);
      throw new Error(`Fine-tuning stopped (${p.stopped}) after ${p.steps} steps`);
    }
    disposePersonalised(p);
    models[m] = p.model;
    seconds[m] = (performance.now() - t0) / 1000;
    return p.steps;
  };
  try {
    await make('untrained', untrained, false);
    await make('feed-forward', meta, false);
    const steps = await make('fine-tuned', meta, true);
    return { models, seconds, fineTuneSteps: steps };
  } catch (e) {
    for (const m of Object.values(models)) disposePersonal(m);
    throw e;
  }
}

export function disposePersonModels(p: PersonModels): void {
  for (const m of Object.values(p.models)) disposePersonal(m);
}

/**
 * Renders `landmarks` (n x 136) through `model` and scores each frame against `real`
 * (n x R x R x 3): mean SSIM and PSNR, and the rendered frames.
 */
export function scoreAgainst(
  model: PersonalModel,
  landmarks: Float32Array,
  real: Uint8Array,
): Scores & { images: RgbImage[] } {
  const r = model.net.resolution;
  const fb = r * r * 3;
  const n = landmarks.length / LANDMARK_VALUES;
  if (!Number.isInteger(n) || real.length !== n * fb)
    throw new RangeError(`scoreAgainst: ${n} landmark sets and ${real.length / fb} ${r}px frames`);
  const images = renderTrack(model, landmarks, undefined, { float32: true }); // scores: float32 anywhere
  const refs = images.map((_, i) => ({ width: r, height: r, data: real.subarray(i * fb, (i + 1) * fb) }));
  return { ...meanQuality(images, refs), frames: n, images };
}

/** One held-out person: T frames from one video, hold-out frames from another of the same identity. */
export interface HeldOutCase {
  identity: string;
  trainVideo: number;
  /** the T frames (as framesFromDataset picks them with the same seed) */
  trainFrames: number[];
  evalVideo: number;
  evalFrames: number[];
}

/**
 * Few-shot cases of a dataset, one per identity (sorted by name, up to `count`): T frames of its
 * first video and `frames` hold-out frames disjoint from them. With `split` (the model's own training
 * data) only its held-out identities (the same split as training: holdout fraction and seed from the
 * model's config); without, every identity (a test set the model never saw). The hold-out frames are
 * the first `frames` frames of the same video the T frames did not take (paper sec. 4), or, when
 * that video has too few, of the identity's second video.
 */
export function fewShotCases(
  ds: Dataset,
  o: {
    T: number;
    frames: number;
    count: number;
    seed?: number;
    split?: Pick<MetaModel, 'config'> | undefined;
  },
): HeldOutCase[] {
  const videos = o.split
    ? splitByIdentity(ds, o.split.config.holdout, o.split.config.seed).test
    : ds.videos.map((_, i) => i);
  const byId = new Map<string, number[]>();
  for (const v of videos) byId.set(ds.video(v).identity, [...(byId.get(ds.video(v).identity) ?? []), v]);
  const ids = [...byId.keys()].sort().slice(0, o.count);
  return ids.map((identity) => {
    const vids = byId.get(identity)!;
    const trainVideo = vids[0]!;
    const trainFrames = fewShotSet(ds, trainVideo, o.T, 0, o.seed ?? 0).train;
    const rest = Array.from({ length: ds.video(trainVideo).frames }, (_, i) => i).filter(
      (f) => !trainFrames.includes(f),
    );
    if (rest.length >= o.frames || vids.length === 1)
      return {
        identity,
        trainVideo,
        trainFrames,
        evalVideo: trainVideo,
        evalFrames: rest.slice(0, o.frames),
      };
    const evalVideo = vids[1]!;
    const n = Math.min(o.frames, ds.video(evalVideo).frames);
    return {
      identity,
      trainVideo,
      trainFrames,
      evalVideo,
      evalFrames: Array.from({ length: n }, (_, i) => i),
    };
  });
}

/** Means of per-person scores, per method. */
export function meanScores(rows: Record<Method, Scores>[]): Record<Method, Scores> {
  const out = {} as Record<Method, Scores>;
  for (const m of METHODS) {
    const xs = rows.map((r) => r[m]);
    out[m] = {
      ssim: xs.reduce((s, x) => s + x.ssim, 0) / xs.length,
      psnr: xs.reduce((s, x) => s + x.psnr, 0) / xs.length,
      frames: xs.reduce((s, x) => s + x.frames, 0),
    };
  }
  return out;
}

/** The table the demo and the model card print: method, SSIM, PSNR. */
export function scoreTable(scores: Record<Method, Scores>, frames: number): string {
  const lines = [`method         SSIM    PSNR (dB)   (${frames} hold-out frames vs the real ones)`];
  for (const m of METHODS)
    lines.push(`${m.padEnd(13)}  ${scores[m].ssim.toFixed(3)}   ${scores[m].psnr.toFixed(2).padStart(6)}`);
  return lines.join('\n');
}
