/**
 * K-shot episodes for meta-learning (Zakharov et al. 2019, sec. 3.2; docs/design.md sec. 5): a video i,
 * K frames for the embedder and one target frame t that is never among them (a known pitfall of
 * public ports is letting t leak into the K set). Splits by video and by identity, and few-shot sets
 * (T frames to fine-tune on + disjoint hold-out frames, docs/design.md sec. 6).
 */
import { toUnit } from '../core/units.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import {
  augmentFrame,
  landmarkWarp,
  type ColourJitter,
  type FrameAugment,
  type SimilarityJitter,
} from './augment.js';
import type { Dataset, VideoSource } from './dataset.js';
import { LANDMARK_VALUES, mouthMask, rasterizeLandmarks } from '../faces/landmarks.js';
import { nearestFrame, warpFrame } from './source_warp.js';
import { neutralShape, Retargeter } from '../faces/retarget.js';

export interface EpisodePlan {
  /** dataset video index per episode */
  videos: number[];
  /**
   * K frame indices per episode. A video with fewer than K + 1 frames fills its K slots by cycling
   * through the frames that are not its target (a two-photo person: K copies of one photo).
   */
  kFrames: number[][];
  /** target frame per episode, not in its K set (a one-frame video: its warped copy, see augment) */
  targets: number[];
  /** augmentations per episode, drawn with the plan (absent: none configured) */
  augment?: EpisodeAugment[];
}

/**
 * How often and how strongly episodes are augmented (augment.ts); every field 0 = off (the default,
 * so procedural runs read their data exactly as before).
 */
export interface AugmentConfig {
  /** probability that an episode is mirrored (all its frames) */
  flip: number;
  /** similarity jitter per frame: up to 8 degrees, 8% scale and 4% shift at 1 */
  jitter: number;
  /** colour jitter per episode: up to 10% gain per channel, 20% contrast, 30% saturation, 15 grey levels at 1 */
  colour: number;
  /**
   * probability that the target of a photo person (a video of at most 4 frames) is a warped copy of
   * one of its K frames, moved to another face's expression and pose; one-photo people always are
   * (otherwise they have no second frame and are left out)
   */
  warp: number;
}

export const NO_AUGMENT: AugmentConfig = { flip: 0, jitter: 0, colour: 0, warp: 0 };

/** Photo people (at most this many frames) get warped targets with probability `warp`. */
export const PHOTO_FRAMES = 4;

/** One episode's augmentations. */
export interface EpisodeAugment {
  flip: boolean;
  colour: ColourJitter | null;
  /** per frame: K embedder frames, then the target */
  jitter: (SimilarityJitter | null)[];
  /** the target is kFrames[0] warped to this driver frame's expression and pose (retargeted) */
  warp: { video: number; frame: number } | null;
}

/** Episodes [from, to) of a plan (a rank's share of a global batch). */
export function slicePlan(plan: EpisodePlan, from: number, to: number): EpisodePlan {
  return {
    videos: plan.videos.slice(from, to),
    kFrames: plan.kFrames.slice(from, to),
    targets: plan.targets.slice(from, to),
    ...(plan.augment ? { augment: plan.augment.slice(from, to) } : {}),
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
  /**
   * [B, H, W, 3] source warps (sampler option `sourceWarp`, else null): the K frame nearest the
   * target, as augmented, moved to the target's landmarks (source_warp.ts)
   */
  wt: tf.Tensor4D | null;
  /** [B, H, W, 1] the targets' mouth regions (sampler option `mouth`, else null) */
  mt: tf.Tensor4D | null;
  plan: EpisodePlan;
}

/** Options of an EpisodeSampler beyond its data, K and seed. */
export interface SamplerOptions {
  /** sampling weight per pool video (DataMix.poolWeights); absent: uniform */
  weights?: readonly number[] | null;
  augment?: AugmentConfig;
  /** also load each target's source warp (a network with `sourceWarp`) */
  sourceWarp?: boolean;
  /** also load each target's mouth region (the mouth-region loss) */
  mouth?: boolean;
}

/**
 * Draws episode plans: videos with replacement from `pool` (uniformly, or by weight), then K + 1
 * distinct frames per video; a shorter video gives what it has (see EpisodePlan.kFrames).
 */
export class EpisodeSampler {
  readonly rng: Rng;
  readonly augment: AugmentConfig;
  readonly sourceWarp: boolean;
  readonly mouth: boolean;
  private readonly cumulative: Float64Array | null;
  /** videos whose motion drives the warp: the pool's videos with at least 2 frames */
  private readonly drivers: number[];
  private readonly neutral = new Map<number, Float32Array>();

  constructor(
    readonly ds: VideoSource,
    readonly k: number,
    seed: number,
    readonly pool: readonly number[] = ds.videos.map((_, i) => i),
    options: SamplerOptions = {},
  ) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`K must be a positive integer, got ${k}`);
    this.augment = options.augment ?? NO_AUGMENT;
    this.sourceWarp = options.sourceWarp ?? false;
    this.mouth = options.mouth ?? false;
    this.drivers = pool.filter((i) => ds.video(i).frames >= 2);
    const canWarp = this.augment.warp > 0 && this.drivers.length > 0;
    const keep = pool.map((i) => ds.video(i).frames >= 2 || (canWarp && ds.video(i).frames >= 1));
    const usable = pool.filter((_, j) => keep[j]);
    if (usable.length === 0)
      throw new RangeError(
        `No video in the pool has the 2 frames an episode needs (one-frame videos need --warp > 0 and a video with motion to drive it)`,
      );
    this.pool = usable;
    if (options.weights && options.weights.length !== pool.length)
      throw new RangeError('EpisodeSampler: one weight per pool video');
    const w = options.weights?.filter((_, j) => keep[j]);
    if (w) {
      this.cumulative = new Float64Array(w.length);
      let acc = 0;
      w.forEach((x, j) => (this.cumulative![j] = acc += x));
    } else this.cumulative = null;
    this.rng = new Rng(seed);
  }

  /** Whether episodes of pool video `v` can have a warped copy of a K frame as their target. */
  warpsTargetsOf(v: number): boolean {
    return this.mayWarp(this.ds.video(v).frames);
  }

  /** A video of `frames` frames: one photo always gets a warped target, a photo person by chance. */
  private mayWarp(frames: number): boolean {
    return this.drivers.length > 0 && (frames < 2 || (frames <= PHOTO_FRAMES && this.augment.warp > 0));
  }

  private drawVideo(): number {
    if (!this.cumulative) return this.pool[this.rng.int(this.pool.length)]!;
    const c = this.cumulative;
    const u = this.rng.next() * c[c.length - 1]!;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return this.pool[lo]!;
  }

  plan(batch: number): EpisodePlan {
    const plan: EpisodePlan = { videos: [], kFrames: [], targets: [] };
    const a = this.augment;
    const augmenting = a.flip > 0 || a.jitter > 0 || a.colour > 0 || a.warp > 0;
    if (augmenting) plan.augment = [];
    for (let b = 0; b < batch; b++) {
      const v = this.drawVideo();
      const n = this.ds.video(v).frames;
      let kf: number[];
      let target: number;
      if (n >= this.k + 1) {
        const picks = this.rng.sample(n, this.k + 1);
        target = picks[this.k]!;
        kf = picks.slice(0, this.k);
      } else if (n >= 2) {
        const picks = this.rng.sample(n, n);
        target = picks[n - 1]!;
        kf = Array.from({ length: this.k }, (_, j) => picks[j % (n - 1)]!);
      } else {
        target = 0;
        kf = new Array<number>(this.k).fill(0);
      }
      plan.videos.push(v);
      plan.targets.push(target);
      plan.kFrames.push(kf);
      if (augmenting) plan.augment!.push(this.drawAugment(n));
    }
    return plan;
  }

  private drawAugment(frames: number): EpisodeAugment {
    const a = this.augment;
    const r = this.rng;
    const sym = () => 2 * r.next() - 1;
    const flip = a.flip > 0 && r.next() < a.flip;
    const colour: ColourJitter | null =
      a.colour > 0
        ? {
            gain: [1 + 0.1 * a.colour * sym(), 1 + 0.1 * a.colour * sym(), 1 + 0.1 * a.colour * sym()],
            brightness: 15 * a.colour * sym(),
            contrast: 1 + 0.2 * a.colour * sym(),
            saturation: 1 + 0.3 * a.colour * sym(),
          }
        : null;
    const jitter = Array.from({ length: this.k + 1 }, (): SimilarityJitter | null =>
      a.jitter > 0
        ? {
            angle: ((8 * Math.PI) / 180) * a.jitter * sym(),
            scale: 1 + 0.08 * a.jitter * sym(),
            dx: 0.04 * a.jitter * sym() * this.ds.resolution,
            dy: 0.04 * a.jitter * sym() * this.ds.resolution,
          }
        : null,
    );
    let warp: EpisodeAugment['warp'] = null;
    if (this.mayWarp(frames) && (frames < 2 || r.next() < a.warp)) {
      const video = this.drivers[r.int(this.drivers.length)]!;
      warp = { video, frame: r.int(this.ds.video(video).frames) };
    }
    return { flip, colour, jitter, warp };
  }

  /** A driver video's neutral shape (retarget.ts), cached. */
  private neutralOf(v: number): Float32Array {
    let s = this.neutral.get(v);
    if (!s) {
      s = neutralShape(this.ds.landmarks(v), this.ds.video(v).frames);
      this.neutral.set(v, s);
    }
    return s;
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
    const wt = this.sourceWarp ? new Float32Array(b * fb) : null;
    const mt = this.mouth ? new Float32Array(b * res * res) : null;
    const lmImg = new Uint8Array(fb);
    /** one frame into slot `slot` of xs/ys; returns it (uint8, augmented) with its landmarks */
    const put = (
      v: number,
      f: number,
      xs: Float32Array,
      ys: Float32Array,
      slot: number,
      aug: FrameAugment | null,
    ): { rgb: Uint8Array; lm: Float32Array } => {
      const frame = this.ds.readFrames(v, f, 1, new Uint8Array(fb));
      let rgb: Uint8Array = frame;
      let lm: Float32Array = this.ds.frameLandmarks(v, f);
      if (aug) ({ rgb, landmarks: lm } = augmentFrame(frame, lm, res, aug));
      toUnit(rgb, xs, slot * fb);
      rasterizeLandmarks(lm, res, lmImg);
      toUnit(lmImg, ys, slot * fb);
      return { rgb, lm };
    };
    plan.videos.forEach((v, e) => {
      const a = plan.augment?.[e];
      const frameAug = (j: number): FrameAugment | null =>
        a
          ? {
              flip: a.flip,
              ...(a.jitter[j] ? { jitter: a.jitter[j] } : {}),
              ...(a.colour ? { colour: a.colour } : {}),
            }
          : null;
      const given = plan.kFrames[e]!.map((f, j) => put(v, f, xk, yk, e * this.k + j, frameAug(j)));
      const t = frameAug(this.k);
      let target: { rgb: Uint8Array; lm: Float32Array };
      if (a?.warp) {
        // the target: K frame 0 moved to the driver frame's expression and pose, retargeted onto this face
        const src = plan.kFrames[e]![0]!;
        const own = this.ds.frameLandmarks(v, src);
        const moved = new Retargeter(Float32Array.from(own), this.neutralOf(a.warp.video)).map(
          this.ds.frameLandmarks(a.warp.video, a.warp.frame),
        );
        target = put(v, src, xt, yt, e, { ...t, warp: landmarkWarp(own, moved, res) });
      } else target = put(v, plan.targets[e]!, xt, yt, e, t);
      if (wt) {
        const lms = new Float32Array(given.length * LANDMARK_VALUES);
        given.forEach((g, j) => lms.set(g.lm, j * LANDMARK_VALUES));
        const j = nearestFrame(lms, given.length, target.lm);
        toUnit(warpFrame(given[j]!.rgb, given[j]!.lm, target.lm, res), wt, e * fb);
      }
      if (mt) mouthMask(target.lm, res, mt, e * res * res);
    });
    return {
      xk: tf.tensor4d(xk, [b * this.k, res, res, 3]),
      yk: tf.tensor4d(yk, [b * this.k, res, res, 3]),
      xt: tf.tensor4d(xt, [b, res, res, 3]),
      yt: tf.tensor4d(yt, [b, res, res, 3]),
      video: tf.tensor1d(plan.videos, 'int32'),
      wt: wt && tf.tensor4d(wt, [b, res, res, 3]),
      mt: mt && tf.tensor4d(mt, [b, res, res, 1]),
      plan,
    };
  }

  next(batch: number): EpisodeBatch {
    return this.load(this.plan(batch));
  }
}

export function disposeEpisode(e: EpisodeBatch): void {
  tf.dispose([e.xk, e.yk, e.xt, e.yt, e.video, ...(e.wt ? [e.wt] : []), ...(e.mt ? [e.mt] : [])]);
}

export interface Split {
  train: number[];
  test: number[];
}

/** Holds out a fraction of videos (seeded). */
export function splitByVideo(ds: VideoSource, testFraction: number, seed: number): Split {
  const idx = new Rng(seed).sample(ds.numVideos, ds.numVideos);
  const nTest = Math.round(ds.numVideos * testFraction);
  return { test: idx.slice(0, nTest).sort((a, b) => a - b), train: idx.slice(nTest).sort((a, b) => a - b) };
}

/** Holds out whole identities, so test people are never seen in training (seeded). */
export function splitByIdentity(ds: VideoSource, testFraction: number, seed: number): Split {
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
 * T fine-tuning frames and up to `holdout` evaluation frames of one video, disjoint (docs/design.md
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
