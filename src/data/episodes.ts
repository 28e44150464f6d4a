/**
 * K-shot episodes for meta-learning (Zakharov et al. 2019, sec. 3.2; design.md sec. 5): a video i,
 * K frames for the embedder and one target frame t that is never among them (a known pitfall of
 * public ports is letting t leak into the K set). Splits by video and by identity, and few-shot sets
 * (T frames to fine-tune on + disjoint hold-out frames, design.md sec. 6).
 */
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import type { Dataset } from './dataset.js';
import { rasterizeLandmarks } from './landmarks.js';

/** uint8 [0, 255] -> [-1, 1], the value range of frames and landmark images in the networks. */
export function toUnit(
  src: Uint8Array,
  out: Float32Array = new Float32Array(src.length),
  offset = 0,
): Float32Array {
  for (let i = 0; i < src.length; i++) out[offset + i] = src[i]! / 127.5 - 1;
  return out;
}

export interface EpisodePlan {
  /** dataset video index per episode */
  videos: number[];
  /** K frame indices per episode */
  kFrames: number[][];
  /** target frame per episode, not in its K set */
  targets: number[];
}

/** Episodes [from, to) of a plan (a rank's share of a global batch). */
export function slicePlan(plan: EpisodePlan, from: number, to: number): EpisodePlan {
  return {
    videos: plan.videos.slice(from, to),
    kFrames: plan.kFrames.slice(from, to),
    targets: plan.targets.slice(from, to),
  };
}

export interface EpisodeBatch {
  /** [B*K, H, W, 3] frames for the embedder, episode-major */
  xk: tf.Tensor4D;
  /** [B*K, H, W, 3] their landmark images */
  yk: tf.Tensor4D;
  /** [B, H, W, 3] target frames */
  xt: tf.Tensor4D;
  /** [B, H, W, 3] target landmark images */
  yt: tf.Tensor4D;
  /** [B] int32 video index (the discriminator's column of W) */
  video: tf.Tensor1D;
  plan: EpisodePlan;
}

/** Draws episode plans: videos with replacement from `pool`, then K + 1 distinct frames per video. */
export class EpisodeSampler {
  readonly rng: Rng;

  constructor(
    readonly ds: Dataset,
    readonly k: number,
    seed: number,
    readonly pool: readonly number[] = ds.videos.map((_, i) => i),
  ) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`K must be a positive integer, got ${k}`);
    const usable = pool.filter((i) => ds.video(i).frames >= k + 1);
    if (usable.length === 0)
      throw new RangeError(`No video in the pool has the ${k + 1} frames a ${k}-shot episode needs`);
    this.pool = usable;
    this.rng = new Rng(seed);
  }

  plan(batch: number): EpisodePlan {
    const plan: EpisodePlan = { videos: [], kFrames: [], targets: [] };
    for (let b = 0; b < batch; b++) {
      const v = this.pool[this.rng.int(this.pool.length)]!;
      const picks = this.rng.sample(this.ds.video(v).frames, this.k + 1);
      plan.videos.push(v);
      plan.targets.push(picks[this.k]!);
      plan.kFrames.push(picks.slice(0, this.k));
    }
    return plan;
  }

  /** Loads the frames of a plan into tensors (the caller disposes them). */
  load(plan: EpisodePlan): EpisodeBatch {
    const res = this.ds.resolution;
    const fb = res * res * 3;
    const b = plan.videos.length;
    const xk = new Float32Array(b * this.k * fb);
    const yk = new Float32Array(b * this.k * fb);
    const xt = new Float32Array(b * fb);
    const yt = new Float32Array(b * fb);
    const frame = new Uint8Array(fb);
    const lmImg = new Uint8Array(fb);
    const put = (v: number, f: number, xs: Float32Array, ys: Float32Array, slot: number) => {
      this.ds.readFrames(v, f, 1, frame);
      toUnit(frame, xs, slot * fb);
      rasterizeLandmarks(this.ds.frameLandmarks(v, f), res, lmImg);
      toUnit(lmImg, ys, slot * fb);
    };
    plan.videos.forEach((v, e) => {
      plan.kFrames[e]!.forEach((f, j) => put(v, f, xk, yk, e * this.k + j));
      put(v, plan.targets[e]!, xt, yt, e);
    });
    return {
      xk: tf.tensor4d(xk, [b * this.k, res, res, 3]),
      yk: tf.tensor4d(yk, [b * this.k, res, res, 3]),
      xt: tf.tensor4d(xt, [b, res, res, 3]),
      yt: tf.tensor4d(yt, [b, res, res, 3]),
      video: tf.tensor1d(plan.videos, 'int32'),
      plan,
    };
  }

  next(batch: number): EpisodeBatch {
    return this.load(this.plan(batch));
  }
}

export function disposeEpisode(e: EpisodeBatch): void {
  tf.dispose([e.xk, e.yk, e.xt, e.yt, e.video]);
}

export interface Split {
  train: number[];
  test: number[];
}

/** Holds out a fraction of videos (seeded). */
export function splitByVideo(ds: Dataset, testFraction: number, seed: number): Split {
  const idx = new Rng(seed).sample(ds.numVideos, ds.numVideos);
  const nTest = Math.round(ds.numVideos * testFraction);
  return { test: idx.slice(0, nTest).sort((a, b) => a - b), train: idx.slice(nTest).sort((a, b) => a - b) };
}

/** Holds out whole identities, so test people are never seen in training (seeded). */
export function splitByIdentity(ds: Dataset, testFraction: number, seed: number): Split {
  const ids = [...new Set(ds.videos.map((v) => v.identity))].sort();
  const order = new Rng(seed).sample(ids.length, ids.length);
  const testIds = new Set(order.slice(0, Math.round(ids.length * testFraction)).map((i) => ids[i]!));
  const split: Split = { train: [], test: [] };
  ds.videos.forEach((v, i) => (testIds.has(v.identity) ? split.test : split.train).push(i));
  return split;
}

export interface FewShotSet {
  video: number;
  /** T frames to fine-tune on */
  train: number[];
  /** disjoint frames to evaluate on */
  holdout: number[];
}

/**
 * T fine-tuning frames and up to `holdout` evaluation frames of one video, disjoint (design.md
 * sec. 6: fine-tune on T frames, synthesise 32 hold-out frames from their landmarks).
 */
export function fewShotSet(ds: Dataset, video: number, t: number, holdout: number, seed: number): FewShotSet {
  const n = ds.video(video).frames;
  if (t < 1 || t >= n)
    throw new RangeError(`Few-shot set: T = ${t} needs 1 <= T < ${n} (frames in "${ds.video(video).id}")`);
  const order = new Rng(seed).sample(n, n);
  return {
    video,
    train: order.slice(0, t).sort((a, b) => a - b),
    holdout: order.slice(t, t + holdout).sort((a, b) => a - b),
  };
}
