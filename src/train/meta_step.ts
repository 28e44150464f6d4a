/**
 * Meta-learning's model (Zakharov et al. 2019, sec. 3.2; docs/design.md sec. 5): e_hat_i = mean_k
 * E(x_i(s_k), y_i(s_k)), psi = P e_hat_i, x_hat = G(y_i(t), psi), scored by D with video i's
 * column, r = V^T (W_i + w0) + b; its own term is L_MCH = L1(e_hat_i, W_i). The update itself
 * (power iteration, E/G step, D steps) is the shared one in adversarial.ts.
 *
 * Parameters are one tree {E, G, D}; Adam has two groups (E+G at 5e-5, D at 2e-4 in the paper).
 */
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { initSpectral } from '../models/blocks.js';
import type { Tensor4 } from '../nn/layers.js';
import {
  discriminator,
  embedder,
  generator,
  generatorParts,
  initDiscriminator,
  initEmbedder,
  initGenerator,
  projectPsi,
  videoColumns,
} from '../models/networks.js';
import { subtree, type ParamTree } from '../nn/params.js';
import type { NetConfig } from '../models/presets.js';
import { AdversarialTrainer, type GanModel, type OptimConfig, type StepMetrics } from './adversarial.js';
import type { ContentNetFiles } from './objective.js';
import { embeddingMatch, generatorTerms, type LossWeights } from './losses.js';

export { PAPER_OPTIM, type OptimConfig } from './adversarial.js';

/** A meta-learning batch: K frames per episode for E, one target per episode. */
export interface MetaBatch {
  xk: Tensor4; // [B*K, R, R, 3]
  yk: Tensor4;
  xt: Tensor4; // [B, R, R, 3]
  yt: Tensor4;
  /** [B] int32: column of W for each episode's video */
  column: tf.Tensor1D;
  /** [B, R, R, 3] the source warps, for a network with `sourceWarp` */
  wt?: Tensor4 | undefined;
  /** [B, R, R, 1] the targets' mouth regions, for the mouth-region loss */
  mt?: Tensor4 | undefined;
}

export type MetaMetrics = StepMetrics;

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

/** e_hat [B, N]: the mean of E over each episode's K frames. */
export function embedEpisodes(E: ParamTree, c: NetConfig, xk: Tensor4, yk: Tensor4, k: number): tf.Tensor2D {
  const e = embedder(E, c, xk, yk); // [B*K, N]
  return tf.mean(tf.reshape(e, [-1, k, c.embedding]), 1) as tf.Tensor2D;
}

/** The meta-learning model: E and G on the generator side, D with one column per training video. */
export function metaModel(c: NetConfig, k: number): GanModel<MetaBatch> {
  return {
    generatorSide: ['E', 'G'],
    generate(p, raw, b) {
      const eHat = embedEpisodes(subtree(p, 'E'), c, b.xk, b.yk, k);
      const g = generatorParts(subtree(p, 'G'), c, b.yt, projectPsi(subtree(p, 'G'), eHat), {}, b.wt);
      return {
        x: g.x,
        terms: {
          mch: embeddingMatch(eHat, videoColumns(subtree(raw, 'D'), b.column)),
          ...generatorTerms(b.xt, g, b.mt),
          // share of live embedding entries: 0 means E's ReLU died and G no longer sees the identity
          eAlive: tf.mean(tf.cast(tf.greater(eHat, 0), 'float32')) as tf.Scalar,
        },
      };
    },
    discriminate: (p, _raw, x, b) => discriminator(subtree(p, 'D'), c, x, b.yt, b.column),
  };
}

export class MetaTrainer extends AdversarialTrainer<MetaBatch> {
  constructor(
    readonly config: NetConfig,
    readonly k: number,
    weights: LossWeights,
    optim: OptimConfig,
    init: { params: ParamTree; sn: ParamTree },
    contentNets: ContentNetFiles = {},
  ) {
    super(metaModel(config, k), weights, optim, init, contentNets);
  }

  /** The generated images for a batch with the current weights (inference: no power-iteration update). */
  generate(b: Pick<MetaBatch, 'xk' | 'yk' | 'yt' | 'wt'>): Tensor4 {
    return this.infer((n) => {
      const eHat = embedEpisodes(subtree(n, 'E'), this.config, b.xk, b.yk, this.k);
      return generator(subtree(n, 'G'), this.config, b.yt, projectPsi(subtree(n, 'G'), eHat), {}, b.wt);
    });
  }
}
