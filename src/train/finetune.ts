/**
 * Few-shot personalisation (Zakharov et al. 2019, sec. 3.3; docs/design.md sec. 1): T frames of a person
 * never seen in meta-learning -> a personalised generator G'.
 *
 *   e_NEW = mean_t E(x(t), y(t))            the T frames' embeddings, averaged
 *   psi'  = P e_NEW                         G's AdaIN parameters, now a trainable tensor of their own
 *   w'    = w0 + e_NEW                      D's column for the new person (b and D's weights kept)
 *   fine-tune G (its weights and psi') and D (theta, w', b) on L'_CNT + L'_ADV and the hinge loss,
 *   80 epochs over the T frames in batches of 4 (the paper: 40 epochs of 8), G at lr 2e-3 and D at
 *   3e-3 (the paper: meta-learning's): measured on unseen identities, see FineTuneConfigSchema.
 *
 * Feed-forward mode (`finetune: false`) stops after psi' = P e_NEW. The step itself is the shared
 * adversarial update (adversarial.ts); the run folder is the shared run object (run.ts).
 */
import { z } from 'zod';
import { grid, toRgb8, type RgbImage } from '../media/image.js';
import { toUnit } from '../core/units.js';
import { augmentFrame, landmarkWarp } from '../data/augment.js';
import { sourceWarps, type SourceFrames } from '../data/source_warp.js';
import type { FewShotFrames } from '../data/fewshot.js';
import { neutralShape, Retargeter } from '../faces/retarget.js';
import { HeadRenderer } from '../synthetic/render.js';
import { LANDMARK_VALUES, landmarkSet, mouthMask, rasterizeLandmarks } from '../faces/landmarks.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { powerIteration, spectralNorm } from '../models/blocks.js';
import type { Tensor4 } from '../nn/layers.js';
import {
  decoderParts,
  discriminator,
  embedder,
  encoderParts,
  generator,
  generatorEncoder,
  generatorParts,
  projectPsi,
} from '../models/networks.js';
import { disposeTree, leaf, mapTree, type ParamTree } from '../nn/params.js';
import { withoutProjection, type PersonalModel } from '../models/personal.js';
import type { NetConfig } from '../models/presets.js';
import { AdversarialTrainer, type GanModel, type StepMetrics } from './adversarial.js';
import { generatorTerms, pixelL1, type LossWeights } from './losses.js';
import { MemoryGuard, nonFinite } from './loop.js';
import type { MetaModel } from './model.js';
import type { Run } from './run.js';

/** Default passes over the T frames in fine-tuning (measured; see FineTuneConfigSchema). */
export const FINETUNE_EPOCHS = 80;
/** Default frames per fine-tuning step (measured; see FineTuneConfigSchema). */
export const FINETUNE_BATCH = 4;
/** Default learning rate of G in fine-tuning (measured; see FineTuneConfigSchema). */
export const FINETUNE_LR_G = 2e-3;
/** Default learning rate of D in fine-tuning (measured; see FineTuneConfigSchema). */
export const FINETUNE_LR_D = 3e-3;

export const FineTuneConfigSchema = z
  .object({
    /**
     * passes over the T frames (paper: 40). 80 by measurement on the shipped model (6 unseen
     * identities, T = 8, lr D 3e-3): held-out SSIM 0.844 at 40 epochs, 0.858 at 80 (twice the time).
     */
    epochs: z.number().int().min(1).default(FINETUNE_EPOCHS),
    /**
     * frames per step (paper: 8 when T > 1). 4: the same epochs and compute as the paper's batch of 8
     * in twice the updates; on 3 unseen identities at T = 8 (shipped 64px model, lr 2e-3) held-out
     * SSIM 0.845 at 8, 0.862 at 4, 0.868 at 2 (which takes twice as long on this CPU).
     */
    batch: z.number().int().min(1).default(FINETUNE_BATCH),
    /**
     * Adam learning rate of G and psi'. The paper reuses meta-learning's (5e-5), tuned for its
     * schedule on VoxCeleb; 40 steps from the shipped 64px model fit best at 2e-3 (held-out SSIM at
     * T = 8 on 3 unseen identities: 0.827 at 1e-3, 0.845 at 2e-3, 0.833 at 4e-3; docs/model-card.md).
     */
    lrG: z.number().positive().default(FINETUNE_LR_G),
    /**
     * Adam learning rate of D (the paper: meta-learning's). D starts from the meta-trained one with
     * a new column w' and must follow G's fast changes: on 6 unseen identities (T = 8, 40 epochs)
     * held-out SSIM 0.825 / 0.830 / 0.840 / 0.844 at 5e-5 / 2e-4 / 1e-3 / 3e-3.
     */
    lrD: z.number().positive().default(FINETUNE_LR_D),
    /**
     * Weights of the face-api content terms in L'_CNT (identity: the face-recognition ResNet in
     * VGGFace's role; perceptual: MobileNetV1 in VGG19's); unset: the meta-trained model's own.
     * Fine-tuning is where they are cheap enough to use here (T frames, not the whole mix).
     */
    identity: z.number().min(0).optional(),
    perceptual: z.number().min(0).optional(),
    /**
     * Probability that a fine-tuning frame is a landmark-driven warp of a given frame to another
     * expression and pose (data/augment.ts landmarkWarp): a procedural head's motion retargeted onto
     * this face: one photo is one expression, and fine-tuning on it alone may learn to ignore the
     * landmarks' changes. Off by default: measured at 0.5 on held-out people it did not help (London
     * T = 1 the same, GRID T = 8 worse: docs/evaluation.md).
     */
    warp: z.number().min(0).max(1).default(0),
    /**
     * What of G fine-tuning trains: 'decoder' (psi' and G's decoder: the up-blocks, their attention,
     * the skips and the output convolution; the encoder that reads the landmarks and the residual
     * blocks keep their meta-learned weights), 'all' (the paper: G's weights and psi') or 'psi' (psi'
     * only). T frames show T expressions; fitting the encoder to them teaches it that other landmarks
     * mean these faces too, and the smile meta-learning could draw closes. Measured on held-out
     * people (docs/evaluation.md "Fine-tuning the decoder"): 'decoder' at or above 'all' everywhere:
     * London T = 1 0.875 -> 0.878 (64 px), 0.837 -> 0.838 (128 px), GRID T = 8 0.955 -> 0.957, T = 1
     * 0.940 -> 0.940, procedural heads (small-64px-ff, T = 8) 0.807 -> 0.808.
     */
    train: z.enum(['decoder', 'all', 'psi']).default('decoder'),
    /**
     * Hold the blend's mask on frames whose source warp is drawn from the frame itself (T = 1: there
     * is no other frame): such a warp is exact, so fitting the blend there only teaches the mask to
     * trust the warp everywhere (an opened mouth too); held, those frames fit G's drawing and leave
     * the mask as meta-learning made it. Measured on held-out London people: the mouths close all the
     * same (the drawing forgets the smile, not the mask), so it is off by default (docs/evaluation.md).
     */
    holdMask: z.boolean().default(false),
    /**
     * Weight of the anchor term (0 = off): fine-tuning fits the T frames, and at T = 1 one photo
     * shows one expression, so G' forgets the others (a smile meta-learning could draw closes when
     * fine-tuned on a neutral photo). With a weight, each step also pulls G' towards what the
     * feed-forward G' made, before fine-tuning, for a few expressions the frames do not show: a
     * procedural head's, retargeted onto this face (the motion `warp` uses), with their source warps.
     * Unset: ANCHOR_DEFAULT for a source-warp model given one frame, else 0 (`anchorWeight`).
     * Measured with the decoder fine-tuned (docs/evaluation.md "Fine-tuning the decoder"): London
     * T = 1 0.878 -> 0.883 (64 px), 0.838 -> 0.843 (128 px), the fine-tuned mouths parted into the
     * smile; GRID T = 1 0.940 either way, T = 2 / 4 / 8 -0.003 / +0.003 / -0.003 (its speaker barely
     * moves: nothing to forget). It needs feed-forward frames that are the person: on the procedural
     * small-64px-ff (no source warp; T = 8) 0.807 -> 0.679.
     */
    anchor: z.number().min(0).optional(),
    /** D updates per G update; unset: the meta-trained model's (1 for every shipped model; the paper's 2) */
    dSteps: z.number().int().min(1).optional(),
    seed: z.number().int().min(0).default(0),
    /** false: the feed-forward mode (psi' = P e_NEW, nothing trained) */
    finetune: z.boolean().default(true),
  })
  .strict();
export type FineTuneConfig = z.infer<typeof FineTuneConfigSchema>;

/** The fine-tuning batch: target frames, their landmark images (and source warps, data/source_warp.ts). */
interface FtBatch {
  xt: Tensor4;
  yt: Tensor4;
  wt?: Tensor4 | undefined;
  /** the mouth regions, for the mouth-region loss */
  mt?: Tensor4 | undefined;
  /** [B, 1, 1, 1]: 1 where a frame's source warp is its own pixels (`holdMask`) */
  exact?: Tensor4 | undefined;
  /** expressions the frames do not show, with the feed-forward G's frames as targets (`anchor`) */
  anchor?: AnchorBatch | undefined;
  /** G's encoder outputs for these frames, when its weights are held (`train: 'decoder'`) */
  encoded?: Tensor4[] | undefined;
}

type AnchorBatch = { yt: Tensor4; wt?: Tensor4 | undefined; xt: Tensor4; encoded?: Tensor4[] | undefined };

/** The given frames as what a source warp draws from. */
export function sourceFramesOf(f: FewShotFrames): SourceFrames {
  return { rgb: f.rgb, landmarks: f.landmarks, count: f.count, size: f.resolution };
}

/**
 * Frames and their landmark images as [-1, 1] tensors. With `sources` (a network with a source
 * warp) also each frame's source warp: given frame `indices[i]` is drawn from another given frame
 * (the nearest; itself only when T = 1), as a held-out frame would be.
 */
export function framePairs(
  f: FewShotFrames,
  indices: number[],
  sources: SourceFrames | null,
  mouth = false,
  holdMask = false,
): FtBatch {
  return pairsOf(
    indices.map((t) => givenFrame(f, t)),
    f.resolution,
    sources,
    mouth,
    holdMask,
  );
}

/** Given frame `t`: its pixels (a view), its landmarks and its index. */
function givenFrame(
  f: FewShotFrames,
  t: number,
): { rgb: Uint8Array; landmarks: Float32Array; frame: number } {
  const fb = f.resolution * f.resolution * 3;
  return { rgb: f.rgb.subarray(t * fb, (t + 1) * fb), landmarks: landmarkSet(f.landmarks, t), frame: t };
}

function pairsOf(
  frames: { rgb: Uint8Array; landmarks: Float32Array; frame?: number }[],
  r: number,
  sources: SourceFrames | null,
  mouth: boolean,
  holdMask = false,
): FtBatch {
  const fb = r * r * 3;
  const x = new Float32Array(frames.length * fb);
  const y = new Float32Array(frames.length * fb);
  const lmImg = new Uint8Array(fb);
  frames.forEach((f, i) => {
    toUnit(f.rgb, x, i * fb);
    rasterizeLandmarks(f.landmarks, r, lmImg);
    toUnit(lmImg, y, i * fb);
  });
  const shape: [number, number, number, number] = [frames.length, r, r, 3];
  const picked: number[] = [];
  const w =
    sources &&
    sourceWarps(
      sources,
      frames.map((f) => f.landmarks),
      frames.map((f) => f.frame ?? -1),
      picked,
    );
  const exact =
    w && holdMask ? frames.map((f, i) => (f.frame !== undefined && picked[i] === f.frame ? 1 : 0)) : null;
  let m: Float32Array | null = null;
  if (mouth) {
    m = new Float32Array(frames.length * r * r);
    frames.forEach((f, i) => mouthMask(f.landmarks, r, m!, i * r * r));
  }
  return {
    xt: tf.tensor4d(x, shape),
    yt: tf.tensor4d(y, shape),
    ...(w ? { wt: tf.tensor4d(w, shape) } : {}),
    ...(m ? { mt: tf.tensor4d(m, [frames.length, r, r, 1]) } : {}),
    ...(exact ? { exact: tf.tensor4d(exact, [frames.length, 1, 1, 1]) } : {}),
  };
}

const disposeBatch = (b: FtBatch): void => {
  tf.dispose([b.xt, b.yt, ...(b.wt ? [b.wt] : []), ...(b.mt ? [b.mt] : []), ...(b.exact ? [b.exact] : [])]);
  if (b.encoded) tf.dispose(b.encoded);
  if (b.anchor) disposeBatch(b.anchor);
};

/** The identity with no gradient: what the loss does through it trains nothing before it. */
const held = tf.customGrad((t) => ({
  value: tf.clone(t as Tensor4),
  gradFunc: (dy) => tf.zerosLike(dy as Tensor4),
}));

/** The procedural motion that drives fine-tuning's warps: a talking, smiling head's landmarks. */
const WARP_MOTION = { seed: 0, identity: 5100, sequence: 0, frames: 120 };

/**
 * Fine-tuning's warped frames (`cfg.warp`): a given frame moved to a procedural head's expression
 * and pose, retargeted onto this person's face (faces/retarget.ts), as a thin-plate spline warp of
 * its pixels (data/augment.ts). The landmarks are where the warp takes the frame's own.
 */
class WarpedFrames {
  private readonly motion: Float32Array;
  private readonly retarget: Retargeter;
  constructor(
    private readonly f: FewShotFrames,
    private readonly rng: Rng,
  ) {
    const head = new HeadRenderer(WARP_MOTION.seed, WARP_MOTION.identity);
    this.motion = new Float32Array(WARP_MOTION.frames * LANDMARK_VALUES);
    for (let i = 0; i < WARP_MOTION.frames; i++)
      this.motion.set(head.render(WARP_MOTION.sequence, i, f.resolution).landmarks, i * LANDMARK_VALUES);
    this.retarget = new Retargeter(
      neutralShape(f.landmarks, f.count),
      neutralShape(this.motion, WARP_MOTION.frames),
    );
  }

  /** a random frame of the motion, retargeted onto this face */
  private moved(): Float32Array {
    return this.at(this.rng.int(WARP_MOTION.frames));
  }

  /** frame i of the motion, retargeted onto this face */
  at(i: number): Float32Array {
    return this.retarget.map(landmarkSet(this.motion, i));
  }

  frame(t: number): { rgb: Uint8Array; landmarks: Float32Array } {
    const r = this.f.resolution;
    const { rgb, landmarks: own } = givenFrame(this.f, t);
    return augmentFrame(rgb, own, r, { warp: landmarkWarp(own, this.moved(), r) });
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const tile = (t: tf.Tensor2D, n: number) => tf.tile(t, [n, 1]) as tf.Tensor2D;

/**
 * The fine-tuning model: G with psi' as a parameter (G.psi) on the generator side; D with its one
 * column w' (D.proj.w) in place of W and w0.
 */
export function fineTuneModel(c: NetConfig, train: FineTuneConfig['train']): GanModel<FtBatch> {
  return {
    generatorSide:
      train === 'psi'
        ? ['G.psi']
        : train === 'decoder'
          ? ['G.psi', ...decoderParts(c).map((k) => `G.${k}`)]
          : ['G'],
    generate: (p, _raw, b) => {
      const G = p['G'] as ParamTree;
      const psi = tile(leaf(G, 'psi') as tf.Tensor2D, b.yt.shape[0]);
      let g = generatorParts(G, c, b.yt, psi, {}, b.wt, b.encoded);
      if (b.exact && g.mask && g.drawn) {
        // frames whose warp is exact blend with the mask held: x = drawn + m (w - drawn), m a constant
        const mask = tf.add(
          tf.mul(g.mask, tf.sub(1, b.exact)),
          tf.mul(held(g.mask) as Tensor4, b.exact),
        ) as Tensor4;
        g = { x: tf.add(g.drawn, tf.mul(mask, tf.sub(b.wt!, g.drawn))) as Tensor4, drawn: g.drawn, mask };
      }
      const terms = generatorTerms(b.xt, g, b.mt);
      if (b.anchor) {
        const a = b.anchor;
        const ga = generator(
          G,
          c,
          a.yt,
          tile(leaf(G, 'psi') as tf.Tensor2D, a.yt.shape[0]),
          {},
          a.wt,
          a.encoded,
        );
        terms['anchor'] = pixelL1(a.xt, ga);
      }
      return { x: g.x, terms };
    },
    discriminate: (p, _raw, x, b) => {
      const D = p['D'] as ParamTree;
      const w = tf.reshape(leaf(D['proj'] as ParamTree, 'w'), [1, c.embedding]) as tf.Tensor2D;
      return discriminator(D, c, x, b.yt, null, { columns: tile(w, x.shape[0]) });
    },
  };
}

export interface Personalised {
  model: PersonalModel;
  /** the feed-forward model's reconstructions of the T frames (before fine-tuning), [T, R, R, 3] */
  feedForward: Tensor4;
  /** the fine-tuned model's reconstructions (the feed-forward ones when not fine-tuned) */
  fineTuned: Tensor4;
  steps: number;
  last: StepMetrics | null;
  /** the pixel L1 on the T frames before and after */
  l1Before: number;
  l1After: number;
  stopped: 'done' | 'interrupted' | 'nan';
}

export interface FineTuneHooks {
  onStart?: (total: number) => void;
  onStep?: (step: number, total: number, m: StepMetrics) => void;
  /** asked after each step: true stops early with the model so far (the browser's cancel button) */
  shouldStop?: () => boolean | Promise<boolean>;
}

/** Normalised weights of a meta-trained model (power iteration without update), for inference. */
export function normalisedMeta(m: Pick<MetaModel, 'params' | 'sn'>): ParamTree {
  const { u, v } = powerIteration(m.params, m.sn, false);
  return spectralNorm(m.params, u, v);
}

/**
 * e_NEW = mean_t E(x(t), y(t)), psi' = P e_NEW, w' = w0 + e_NEW (sec. 3.3), with the meta-trained
 * (spectrally normalised) E and the raw P, w0 (neither is normalised). Caller disposes.
 */
export function fewShotInit(
  meta: Pick<MetaModel, 'params' | 'sn' | 'net'>,
  pairs: { xt: Tensor4; yt: Tensor4 },
): { eNew: tf.Tensor2D; psi: tf.Tensor2D; wPrime: tf.Tensor1D } {
  const c = meta.net;
  return tf.tidy(() => {
    const n = normalisedMeta(meta);
    const eNew = tf.mean(embedder(n['E'] as ParamTree, c, pairs.xt, pairs.yt), 0, true) as tf.Tensor2D; // [1, N]
    const psi = projectPsi(n['G'] as ParamTree, eNew);
    const w0 = leaf((meta.params['D'] as ParamTree)['proj'] as ParamTree, 'w0');
    return { eNew, psi, wPrime: tf.add(tf.reshape(eNew, [c.embedding]), w0) as tf.Tensor1D };
  });
}

/**
 * The tree fine-tuning trains: G's raw weights without P, with psi' (G.psi); D's raw weights with
 * its one column w' (D.proj.w) and b in place of W, w0. Copies: the meta-trained model is untouched.
 */
export function fineTuneParams(
  meta: Pick<MetaModel, 'params'>,
  psi: tf.Tensor2D,
  wPrime: tf.Tensor1D,
): ParamTree {
  return tf.tidy(() => {
    const copy = (t: ParamTree) => mapTree(t, (x) => tf.clone(x));
    const D = meta.params['D'] as ParamTree;
    const Dft: Record<string, ParamTree> = {};
    for (const [k, v] of Object.entries(D)) if (k !== 'proj') Dft[k] = copy(v as ParamTree);
    Dft['proj'] = { w: tf.clone(wPrime), b: tf.clone(leaf(D['proj'] as ParamTree, 'b')) };
    return { G: { ...copy(withoutProjection(meta.params['G'] as ParamTree)), psi: tf.clone(psi) }, D: Dft };
  });
}

/** L'_CNT + L'_ADV's weights: the meta-trained model's, without L_MCH, content terms as asked. */
export function fineTuneWeights(
  meta: LossWeights,
  cfg: Pick<FineTuneConfig, 'identity' | 'perceptual'> & Partial<Pick<FineTuneConfig, 'anchor'>>,
): LossWeights {
  return {
    ...meta,
    mch: 0,
    anchor: cfg.anchor ?? 0,
    identity: cfg.identity ?? meta.identity,
    perceptual: cfg.perceptual ?? meta.perceptual,
  };
}

/** G' of one person from T frames; fine-tuned unless `cfg.finetune` is false. */
export async function personalise(
  meta: MetaModel,
  frames: FewShotFrames,
  cfg: FineTuneConfig,
  run: Run | null,
  hooks: FineTuneHooks = {},
): Promise<Personalised> {
  const c = meta.net;
  if (frames.resolution !== c.resolution)
    throw new RangeError(
      `The frames are ${frames.resolution}px but the model (preset ${meta.config.preset}) is ${c.resolution}px`,
    );
  const T = frames.count;
  const sources = c.sourceWarp ? sourceFramesOf(frames) : null;
  const all = framePairs(frames, range(T), sources);
  const { psi, wPrime, eNew } = fewShotInit(meta, all);
  eNew.dispose();
  // The feed-forward G': G with spectral norm baked in, without P (psi' takes its place).
  const ffG = tf.tidy(() =>
    mapTree(withoutProjection(normalisedMeta(meta)['G'] as ParamTree), (t) => tf.clone(t)),
  );
  // Fine-tuning the decoder holds G's encoder, so its outputs for the given frames (and the anchor
  // set) are constants: computed once here with the feed-forward G's encoder, which the fine-tuned
  // model then carries, instead of at every step (at 128 px its 9x9 convolutions are a sixth of a
  // step). Not with warped frames (`warp`): those are new at every step.
  const hold = cfg.finetune && cfg.train === 'decoder' && cfg.warp === 0 ? encoderParts(c) : [];
  const encoded = hold.length ? tf.tidy(() => generatorEncoder(ffG, c, all.yt, {}, all.wt)) : undefined;
  const feedForward = tf.tidy(() => generator(ffG, c, all.yt, tile(psi, T), {}, all.wt, encoded));
  const l1 = (x: Tensor4) => tf.tidy(() => tf.mean(tf.abs(tf.sub(x, all.xt))).dataSync()[0]!);
  const l1Before = l1(feedForward);
  const result = (model: PersonalModel, fineTuned: Tensor4, rest: Partial<Personalised>): Personalised => ({
    model,
    feedForward,
    fineTuned,
    steps: 0,
    last: null,
    l1Before,
    l1After: l1(fineTuned),
    stopped: 'done',
    ...rest,
  });
  const info = (mode: PersonalModel['info']['mode'], steps: number) => ({
    preset: meta.config.preset,
    mode,
    sourceModel: meta.hash,
    source: frames.source,
    identity: frames.identity,
    steps,
    created: new Date().toISOString(),
  });
  const landmarks = frames.landmarks.slice(0, T * LANDMARK_VALUES);
  // the given frames travel with the model when G warps them (animate draws its source warps from them)
  const given = sources ? { sources: frames.rgb.slice(0, T * c.resolution * c.resolution * 3) } : {};

  if (!cfg.finetune) {
    const model: PersonalModel = {
      net: c,
      info: info('feed-forward', 0),
      G: ffG,
      psi,
      landmarks,
      frames: T,
      ...given,
    };
    const out = result(model, tf.clone(feedForward), {});
    disposeBatch(all);
    wPrime.dispose();
    return out;
  }

  const anchor = anchorWeight(cfg.anchor, c, T);
  const anchors = anchor > 0 ? anchorSet(frames, sources, ffG, c, psi, hold.length > 0) : null;
  let heldEncoder: ParamTree = Object.fromEntries(hold.map((k) => [k, ffG[k]!]));
  disposeTree(Object.fromEntries(Object.entries(ffG).filter(([k]) => !hold.includes(k))));
  const params = withoutParts(fineTuneParams(meta, psi, wPrime), hold);
  // Spectral norm carries on from the meta-trained u vectors (P, psi' and w' are not normalised).
  const sn: ParamTree = tf.tidy(() => ({
    G: mapTree(meta.sn['G'] as ParamTree, (t) => tf.clone(t)),
    D: mapTree(meta.sn['D'] as ParamTree, (t) => tf.clone(t)),
  }));
  tf.dispose([wPrime, psi]);
  const optim = meta.config;
  const weights = fineTuneWeights(meta.config.weights, { ...cfg, anchor });
  const mouth = weights.mouth > 0;
  const trainer = new AdversarialTrainer(
    fineTuneModel(c, cfg.train),
    weights,
    {
      lrEG: cfg.lrG,
      lrD: cfg.lrD,
      beta1: optim.beta1,
      beta2: optim.beta2,
      dSteps: cfg.dSteps ?? optim.dSteps,
    },
    { params, sn },
    { vgg19: meta.config.vgg19, vggface: meta.config.vggface },
  );
  const batch = T > 1 ? Math.min(cfg.batch, T) : 1;
  const perEpoch = Math.ceil(T / batch);
  const total = cfg.epochs * perEpoch;
  const rng = new Rng(cfg.seed + 7);
  const warpRng = new Rng(cfg.seed + 11);
  const warped = cfg.warp > 0 ? new WarpedFrames(frames, warpRng) : null;
  const anchorRng = new Rng(cfg.seed + 13);
  const guard = new MemoryGuard(2);
  let step = 0;
  let last: StepMetrics | null = null;
  let stopped: Personalised['stopped'] = 'done';
  hooks.onStart?.(total);
  try {
    for (let epoch = 0; epoch < cfg.epochs && stopped === 'done'; epoch++) {
      const order = rng.sample(T, T);
      for (let s = 0; s < perEpoch; s++) {
        const pick = order.slice(s * batch, s * batch + batch);
        while (pick.length < batch) pick.push(order[pick.length % T]!); // the last batch filled up
        const b =
          cfg.warp > 0
            ? pairsOf(
                pick.map((t) => (warpRng.next() < cfg.warp ? warped!.frame(t) : givenFrame(frames, t))),
                c.resolution,
                sources,
                mouth,
                cfg.holdMask,
              )
            : framePairs(frames, pick, sources, mouth, cfg.holdMask);
        if (encoded) b.encoded = gatherAll(encoded, pick);
        if (anchors) b.anchor = anchorBatch(anchors, anchorRng);
        const m = await trainer.step(b);
        disposeBatch(b);
        const bad = nonFinite(m);
        if (bad) {
          stopped = 'nan';
          break;
        }
        step++;
        last = m;
        guard.check(step);
        run?.metrics(step, m);
        hooks.onStep?.(step, total, m);
        if ((run && (await run.shouldStop())) || (await hooks.shouldStop?.())) {
          stopped = 'interrupted';
          break;
        }
      }
    }
    const baked = trainer.bakedParams();
    const G = baked['G'] as ParamTree;
    const psiFt = leaf(G, 'psi') as tf.Tensor2D;
    const Gw = { ...heldEncoder, ...Object.fromEntries(Object.entries(G).filter(([k]) => k !== 'psi')) };
    disposeTree(baked['D'] as ParamTree);
    const fineTuned = tf.tidy(() => generator(Gw, c, all.yt, tile(psiFt, T), {}, all.wt));
    const model: PersonalModel = {
      net: c,
      info: info('fine-tuned', step),
      G: Gw,
      psi: psiFt,
      landmarks,
      frames: T,
      ...given,
    };
    heldEncoder = {}; // the model has them now
    return result(model, fineTuned, { steps: step, last, stopped });
  } finally {
    disposeTree(heldEncoder);
    trainer.dispose();
    disposeBatch(all);
    if (anchors) disposeBatch(anchors);
    if (encoded) tf.dispose(encoded);
  }
}

/** The fine-tuning parameters without G's held `parts` (disposed): the trainer neither reads nor normalises them. */
export function withoutParts(params: ParamTree, parts: string[]): ParamTree {
  if (!parts.length) return params;
  const G = params['G'] as ParamTree;
  for (const k of parts) disposeTree(G[k] as ParamTree);
  return { ...params, G: Object.fromEntries(Object.entries(G).filter(([k]) => !parts.includes(k))) };
}

/** Rows `pick` of each tensor (new tensors). */
function gatherAll(ts: Tensor4[], pick: number[]): Tensor4[] {
  return tf.tidy(() => {
    const idx = tf.tensor1d(pick, 'int32');
    return ts.map((t) => tf.gather(t, idx) as Tensor4);
  });
}

/** The anchor's weight when none is asked for: a source-warp model fine-tuned on one frame. */
export const ANCHOR_DEFAULT = 10;

/** The anchor term's weight: as asked, else ANCHOR_DEFAULT where one frame is all there is. */
export function anchorWeight(asked: number | undefined, c: NetConfig, T: number): number {
  return asked ?? (c.sourceWarp && T === 1 ? ANCHOR_DEFAULT : 0);
}

/** Expressions in the anchor set, and how many of them each fine-tuning step fits. */
const ANCHORS = 8;
const ANCHORS_PER_STEP = 2;

/**
 * The anchor set (`anchor`): ANCHORS frames of the fine-tuning motion, evenly spaced, retargeted onto
 * this face, with their source warps and, as targets, the feed-forward G's frames for them;
 * `withEncoded`: also the encoder's outputs for them (held encoder), which those frames were made from.
 */
export function anchorSet(
  frames: FewShotFrames,
  sources: SourceFrames | null,
  ffG: ParamTree,
  c: NetConfig,
  psi: tf.Tensor2D,
  withEncoded = false,
): AnchorBatch {
  const motion = new WarpedFrames(frames, new Rng(0));
  const lms = range(ANCHORS).map((i) => motion.at(Math.floor((i * WARP_MOTION.frames) / ANCHORS)));
  // the given frame's pixels stand in as targets until the feed-forward frames replace them
  const { rgb } = givenFrame(frames, 0);
  const b = pairsOf(
    lms.map((landmarks) => ({ rgb, landmarks })),
    frames.resolution,
    sources,
    false,
  );
  b.xt.dispose();
  const encoded = withEncoded ? tf.tidy(() => generatorEncoder(ffG, c, b.yt, {}, b.wt)) : undefined;
  const xt = tf.tidy(() => generator(ffG, c, b.yt, tile(psi, ANCHORS), {}, b.wt, encoded));
  return { yt: b.yt, wt: b.wt, xt, encoded };
}

/** ANCHORS_PER_STEP of the anchor set, drawn at random (new tensors: the batch disposes them). */
function anchorBatch(set: AnchorBatch, rng: Rng): AnchorBatch {
  const rows = rng.sample(ANCHORS, ANCHORS_PER_STEP);
  const [yt, xt, ...rest] = gatherAll(
    [set.yt, set.xt, ...(set.wt ? [set.wt] : []), ...(set.encoded ?? [])],
    rows,
  );
  const wt = set.wt ? rest.shift() : undefined;
  return { yt: yt!, xt: xt!, wt, encoded: set.encoded ? rest : undefined };
}

/** Sheet: per frame (up to 8), frame | landmark image | feed-forward | fine-tuned. */
export function personalSheet(frames: FewShotFrames, p: Personalised): RgbImage {
  const r = frames.resolution;
  const fb = r * r * 3;
  const n = Math.min(8, frames.count);
  const ff = p.feedForward.dataSync();
  const ft = p.fineTuned.dataSync();
  const tiles: RgbImage[] = [];
  const lmImg = new Uint8Array(fb);
  for (let t = 0; t < n; t++) {
    tiles.push({ width: r, height: r, data: frames.rgb.slice(t * fb, (t + 1) * fb) });
    rasterizeLandmarks(landmarkSet(frames.landmarks, t), r, lmImg);
    tiles.push({ width: r, height: r, data: lmImg.slice() });
    tiles.push(toRgb8(ff.subarray(t * fb, (t + 1) * fb), r, r));
    tiles.push(toRgb8(ft.subarray(t * fb, (t + 1) * fb), r, r));
  }
  return grid(tiles, 4);
}

export function disposePersonalised(p: Personalised): void {
  tf.dispose([p.feedForward, p.fineTuned]);
}
