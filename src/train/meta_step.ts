/**
 * One meta-learning step (Zakharov et al. 2019, sec. 3.2; design.md sec. 5):
 *
 *   1. one power iteration for every spectrally normalised weight (u vectors persist);
 *   2. E and G update together: e_hat_i = mean_k E(x_i(s_k), y_i(s_k)), psi = P e_hat_i,
 *      x_hat = G(y_i(t), psi), loss = L_CNT + L_ADV (-D(x_hat) + lambda_FM L_FM) + lambda_MCH L_MCH,
 *      L_CNT = pixel L1 + identity-feature L1 (face-api's face-recognition ResNet) + perceptual
 *      feature L1 (face-api's MobileNetV1) + VGG19/VGGFace terms, each when weighted or supplied;
 *   3. D updates `dSteps` times (paper: 2) on the hinge loss with the same x_hat, detached.
 *
 * Parameters are one tree {E, G, D}; Adam has two groups (E+G at 5e-5, D at 2e-4 in the paper).
 */
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { initSpectral, powerIteration, spectralNorm } from '../models/blocks.js';
import type { Tensor4 } from '../models/layers.js';
import {
  discriminator,
  embedder,
  generator,
  initDiscriminator,
  initEmbedder,
  initGenerator,
  projectPsi,
  videoColumns,
} from '../models/networks.js';
import { FaceIdNet } from '../models/faceid.js';
import { MobileNetV1 } from '../models/mobilenet.js';
import { CONTENT_WEIGHTS, Vgg } from '../models/vgg.js';
import { disposeTree, type ParamTree } from '../models/params.js';
import type { NetConfig } from '../models/presets.js';
import {
  advGenerator,
  embeddingMatch,
  featureL1,
  featureMatching,
  hingeDiscriminator,
  pixelL1,
  type LossWeights,
} from './losses.js';
import { Adam, valueAndGrads } from './optim.js';

export interface OptimConfig {
  lrEG: number;
  lrD: number;
  beta1: number;
  beta2: number;
  /** discriminator updates per E/G update (paper: 2) */
  dSteps: number;
}

export const PAPER_OPTIM: OptimConfig = { lrEG: 5e-5, lrD: 2e-4, beta1: 0, beta2: 0.9, dSteps: 2 };

/** A meta-learning batch: K frames per episode for E, one target per episode. */
export interface MetaBatch {
  xk: Tensor4; // [B*K, R, R, 3]
  yk: Tensor4;
  xt: Tensor4; // [B, R, R, 3]
  yt: Tensor4;
  /** [B] int32: column of W for each episode's video */
  column: tf.Tensor1D;
}

export type MetaMetrics = Record<string, number>;

const sub = (p: ParamTree, k: 'E' | 'G' | 'D') => p[k] as ParamTree;

export function initMetaParams(
  c: NetConfig,
  numVideos: number,
  seed: number,
): { params: ParamTree; sn: ParamTree } {
  return tf.tidy(() => {
    const rng = new Rng(seed);
    const params = {
      E: initEmbedder(c, rng.fork()),
      G: initGenerator(c, rng.fork()),
      D: initDiscriminator(c, numVideos, rng.fork()),
    };
    return { params, sn: initSpectral(params, rng.fork()) };
  }) as { params: ParamTree; sn: ParamTree };
}

export function makeAdam(o: OptimConfig, params: ParamTree): Adam {
  return new Adam(
    {
      EG: {
        match: (p) => p.startsWith('E.') || p.startsWith('G.'),
        lr: o.lrEG,
        beta1: o.beta1,
        beta2: o.beta2,
      },
      D: { match: (p) => p.startsWith('D.'), lr: o.lrD, beta1: o.beta1, beta2: o.beta2 },
    },
    params,
  );
}

/** e_hat [B, N]: the mean of E over each episode's K frames. */
export function embedEpisodes(E: ParamTree, c: NetConfig, xk: Tensor4, yk: Tensor4, k: number): tf.Tensor2D {
  const e = embedder(E, c, xk, yk); // [B*K, N]
  return tf.mean(tf.reshape(e, [-1, k, c.embedding]), 1) as tf.Tensor2D;
}

export class MetaTrainer {
  params: ParamTree;
  sn: ParamTree;
  readonly adam: Adam;
  /** frozen identity network for L_CNT, loaded when its weight is non-zero */
  readonly faceId: FaceIdNet | null;
  /** frozen general perceptual network for L_CNT, loaded when its weight is non-zero */
  readonly mobilenet: MobileNetV1 | null;
  /** the paper's VGG19 / VGGFace content networks, when the user supplies their weights */
  readonly vgg: Vgg[];

  constructor(
    readonly config: NetConfig,
    readonly k: number,
    readonly weights: LossWeights,
    readonly optim: OptimConfig,
    init: { params: ParamTree; sn: ParamTree },
    contentNets: { vgg19?: string | undefined; vggface?: string | undefined } = {},
  ) {
    this.params = init.params;
    this.sn = init.sn;
    this.adam = makeAdam(optim, this.params);
    this.faceId = weights.identity > 0 ? FaceIdNet.load() : null;
    this.mobilenet = weights.perceptual > 0 ? MobileNetV1.load() : null;
    this.vgg = [];
    if (contentNets.vgg19) this.vgg.push(Vgg.fromSafetensors('vgg19', contentNets.vgg19));
    if (contentNets.vggface) this.vgg.push(Vgg.fromSafetensors('vggface', contentNets.vggface));
  }

  /** Runs a power iteration on one network (or all) and returns v; replaces that part of sn. */
  private iterate(nets: ('E' | 'G' | 'D')[]): ParamTree {
    const vs: Record<string, ParamTree> = {};
    const sn: Record<string, ParamTree> = { ...(this.sn as Record<string, ParamTree>) };
    for (const n of nets) {
      const { u, v } = powerIteration(sub(this.params, n), sub(this.sn, n));
      disposeTree(sub(this.sn, n));
      sn[n] = u;
      vs[n] = v;
    }
    this.sn = sn;
    return vs;
  }

  /**
   * One E/G update and `dSteps` D updates. `advScale` multiplies the weights of L_ADV and L_MCH
   * (the content-first warm-up): both pull towards the discriminator, which knows nothing yet.
   */
  step(b: MetaBatch, advScale = 1): MetaMetrics {
    const c = this.config;
    const w0 = this.weights;
    const w = { ...w0, adv: w0.adv * advScale, fm: w0.fm * advScale, mch: w0.mch * advScale };
    const v = this.iterate(['E', 'G', 'D']);
    const norm = (p: ParamTree, n: 'E' | 'G' | 'D', vn: ParamTree) =>
      spectralNorm(sub(p, n), sub(this.sn, n), sub(vn, n));

    // Real images' discriminator features: constants of the E/G step.
    const realFeatures = tf.tidy(
      () => discriminator(norm(this.params, 'D', v), c, b.xt, b.yt, b.column).features,
    );
    const realIdentity = this.faceId ? tf.tidy(() => this.faceId!.forward(b.xt).features) : [];
    const realVgg = this.vgg.map((net) => tf.tidy(() => net.features(b.xt)));
    const realPerceptual = this.mobilenet ? tf.tidy(() => this.mobilenet!.features(b.xt)) : [];

    // ---- E and G ----
    const kept: Record<string, tf.Scalar> = {};
    let fake: Tensor4 | null = null;
    const g = tf.tidy(() =>
      valueAndGrads(
        (p) => {
          const E = norm(p, 'E', v);
          const G = norm(p, 'G', v);
          const D = norm(p, 'D', v);
          const eHat = embedEpisodes(E, c, b.xk, b.yk, this.k);
          const x = generator(G, c, b.yt, projectPsi(G, eHat));
          const d = discriminator(D, c, x, b.yt, b.column);
          const terms: Record<string, tf.Scalar> = {
            pixel: pixelL1(b.xt, x),
            adv: advGenerator(d.score),
            fm: featureMatching(realFeatures, d.features),
            mch: embeddingMatch(eHat, videoColumns(sub(p, 'D'), b.column)),
          };
          if (this.faceId) terms['identity'] = featureL1(realIdentity, this.faceId.forward(x).features);
          if (this.mobilenet) terms['perceptual'] = featureL1(realPerceptual, this.mobilenet.features(x));
          this.vgg.forEach((net, i) => (terms[net.kind] = featureL1(realVgg[i]!, net.features(x))));
          const weighted: tf.Scalar[] = [
            tf.mul(terms['pixel']!, w.pixel),
            tf.mul(terms['adv']!, w.adv),
            tf.mul(terms['fm']!, w.fm),
          ];
          if (terms['identity']) weighted.push(tf.mul(terms['identity'], w.identity) as tf.Scalar);
          if (terms['perceptual']) weighted.push(tf.mul(terms['perceptual'], w.perceptual) as tf.Scalar);
          for (const net of this.vgg)
            weighted.push(tf.mul(terms[net.kind]!, CONTENT_WEIGHTS[net.kind]) as tf.Scalar);
          if (w0.mch > 0) weighted.push(tf.mul(terms['mch']!, w.mch) as tf.Scalar);
          for (const [k2, t] of Object.entries(terms)) kept[k2] = tf.keep(t);
          // share of live embedding entries: 0 means E's ReLU died and G no longer sees the identity
          kept['eAlive'] = tf.keep(tf.mean(tf.cast(tf.greater(eHat, 0), 'float32')) as tf.Scalar);
          fake = tf.keep(x);
          return tf.addN(weighted) as tf.Scalar;
        },
        this.params,
        (path) => path.startsWith('E.') || path.startsWith('G.'),
      ),
    );
    tf.dispose([...realFeatures, ...realIdentity, ...realPerceptual, ...realVgg.flat()]);
    this.params = this.adam.update(this.params, g.grads);
    const metrics: Record<string, tf.Scalar> = { lossEG: g.value, ...kept };

    // ---- D, dSteps times, on the same (detached) x_hat ----
    for (let i = 0; i < this.optim.dSteps; i++) {
      const vd = i === 0 ? v : this.iterate(['D']);
      const scores: Record<string, tf.Scalar> = {};
      const d = tf.tidy(() =>
        valueAndGrads(
          (p) => {
            const D = norm(p, 'D', vd);
            const real = discriminator(D, c, b.xt, b.yt, b.column).score;
            const fk = discriminator(D, c, fake!, b.yt, b.column).score;
            scores['dReal'] = tf.keep(tf.mean(real) as tf.Scalar);
            scores['dFake'] = tf.keep(tf.mean(fk) as tf.Scalar);
            return hingeDiscriminator(real, fk);
          },
          this.params,
          (path) => path.startsWith('D.'),
        ),
      );
      if (i > 0) disposeTree(vd);
      this.params = this.adam.update(this.params, d.grads);
      if (i === this.optim.dSteps - 1) Object.assign(metrics, { lossD: d.value, ...scores });
      else tf.dispose([d.value, ...Object.values(scores)]);
    }
    disposeTree(v);
    tf.dispose(fake!);
    const out: MetaMetrics = {};
    for (const [k2, t] of Object.entries(metrics)) {
      out[k2] = t.dataSync()[0]!;
      t.dispose();
    }
    return out;
  }

  /** The generated images for a batch with the current weights (inference: no power-iteration update). */
  generate(b: Pick<MetaBatch, 'xk' | 'yk' | 'yt'>): Tensor4 {
    return tf.tidy(() => {
      const { u, v } = powerIteration(this.params, this.sn, false);
      const n = spectralNorm(this.params, u, v);
      const eHat = embedEpisodes(sub(n, 'E'), this.config, b.xk, b.yk, this.k);
      return generator(sub(n, 'G'), this.config, b.yt, projectPsi(sub(n, 'G'), eHat));
    });
  }

  dispose(): void {
    disposeTree(this.params);
    disposeTree(this.sn);
    this.adam.dispose();
    this.faceId?.dispose();
    this.mobilenet?.dispose();
    for (const v of this.vgg) v.dispose();
  }
}
