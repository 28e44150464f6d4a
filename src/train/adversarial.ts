/**
 * The adversarial update shared by meta-learning (sec. 3.2) and fine-tuning (sec. 3.3):
 *
 *   1. one power iteration for every spectrally normalised weight (u vectors persist);
 *   2. the generator side (E and G in meta-learning, G with psi' in fine-tuning) updates once on
 *      L_CNT + L_ADV (-D(x_hat) + lambda_FM L_FM) + the model's own terms (L_MCH);
 *   3. D updates `dSteps` times on the hinge loss with the same x_hat, detached. The first of these
 *      gradients does not depend on the E/G update: it is taken from the same forward pass over D
 *      as the generator side's, and both updates are applied together.
 *
 * What differs between the two is the model: how x_hat is made and how D scores a pair. A
 * `GanModel` says that; this class owns the parameters, the spectral-norm vectors, Adam (two
 * groups: generator side and D), the content networks, and the step itself.
 */
import { tf } from '../engine/tf.js';
import { powerIteration, spectralNorm } from '../models/blocks.js';
import type { Tensor4 } from '../nn/layers.js';
import type { DiscOut } from '../models/networks.js';
import { disposeTree, mapTree, type ParamTree } from '../nn/params.js';
import type { GradientReducer } from './distributed.js';
import { readScalars } from './loop.js';
import { advGenerator, featureMatching, hingeDiscriminator, type LossWeights } from './losses.js';
import { ContentLoss, scaleAdversarial, weightedObjective, type ContentNetFiles } from './objective.js';
import { Adam, valueAndGrads, valueAndGradsOfMany, type ValueAndGrads } from './optim.js';

export interface OptimConfig {
  lrEG: number;
  lrD: number;
  beta1: number;
  beta2: number;
  /** discriminator updates per E/G update (paper: 2) */
  dSteps: number;
}

export const PAPER_OPTIM: OptimConfig = { lrEG: 5e-5, lrD: 2e-4, beta1: 0, beta2: 0.9, dSteps: 2 };

/** The real side of a step: target frames and their landmark images. */
export interface Targets {
  xt: Tensor4;
  yt: Tensor4;
}

/**
 * A model trained adversarially. `p` is always the spectrally normalised tree (the raw one is
 * given too, for leaves such as W that are used unnormalised).
 */
export interface GanModel<B extends Targets> {
  /** what the generator-side update trains: subtrees ('E', 'G') or single leaves ('G.psi'); the
   * rest of the generator side stays as it is */
  readonly generatorSide: readonly string[];
  /** x_hat for the batch, plus the model's own named terms (and metrics: terms without a weight) */
  generate(p: ParamTree, raw: ParamTree, b: B): { x: Tensor4; terms?: Record<string, tf.Scalar> };
  /** D(x, y) for the batch's targets; reads D's weights only (the step relies on it) */
  discriminate(p: ParamTree, raw: ParamTree, x: Tensor4, b: B): DiscOut;
}

export type StepMetrics = Record<string, number>;

export class AdversarialTrainer<B extends Targets> {
  params: ParamTree;
  sn: ParamTree;
  readonly adam: Adam;
  readonly content: ContentLoss;
  /**
   * Data-parallel training: averages each update's gradients over the ranks before Adam (every
   * replica then takes the same step). Unset, the step never awaits and runs as one synchronous call.
   */
  reducer: GradientReducer<B> | null = null;
  private readonly isGen: (path: string) => boolean;

  constructor(
    readonly model: GanModel<B>,
    readonly weights: LossWeights,
    readonly optim: OptimConfig,
    init: { params: ParamTree; sn: ParamTree },
    contentNets: ContentNetFiles = {},
  ) {
    this.params = init.params;
    this.sn = init.sn;
    // a subtree ('G') or a single leaf ('G.psi')
    this.isGen = (path) => model.generatorSide.some((k) => path === k || path.startsWith(`${k}.`));
    const { beta1, beta2 } = optim;
    this.adam = new Adam(
      {
        EG: { match: this.isGen, lr: optim.lrEG, beta1, beta2 },
        D: { match: (p) => p.startsWith('D.'), lr: optim.lrD, beta1, beta2 },
      },
      this.params,
    );
    this.content = new ContentLoss(weights, contentNets);
  }

  /** Runs a power iteration on the named subtrees and returns their v; replaces those u vectors. */
  private iterate(nets: string[]): ParamTree {
    const vs: Record<string, ParamTree> = {};
    const sn: Record<string, ParamTree> = { ...(this.sn as Record<string, ParamTree>) };
    for (const n of nets) {
      const { u, v } = powerIteration(this.params[n] as ParamTree, this.sn[n] as ParamTree);
      disposeTree(this.sn[n] as ParamTree);
      sn[n] = u;
      vs[n] = v;
    }
    this.sn = sn;
    return vs;
  }

  private normalised(p: ParamTree, v: ParamTree, nets: string[]): ParamTree {
    const out: Record<string, ParamTree> = {};
    for (const n of nets)
      out[n] = spectralNorm(p[n] as ParamTree, this.sn[n] as ParamTree, v[n] as ParamTree);
    return out;
  }

  /**
   * One generator-side update and `dSteps` D updates. `advScale` multiplies the weights of L_ADV
   * and L_MCH (the content-first warm-up): both pull towards a discriminator that knows nothing yet.
   */
  async step(b: B, advScale = 1): Promise<StepMetrics> {
    const w = scaleAdversarial(this.weights, advScale);
    const nets = Object.keys(this.params);
    const v = this.iterate(nets);

    // The real images' content features: constants of the generator update.
    const real = this.content.real(b.xt);
    const isD = (path: string) => path.startsWith('D.');

    // ---- the generator side and D's first update, from one forward pass ----
    // D(x) and D(x_hat) are what both updates need: the generator side's L_ADV and L_FM read them
    // (D(x)'s features are constants there: no path leads from E/G to them), D's hinge loss reads
    // their scores with x_hat detached (no path leads from D's weights to E/G). Each is
    // differentiated by its own parameters; D's gradient does not depend on the E/G update.
    const kept: Record<string, tf.Scalar> = {};
    const scores: Record<string, tf.Scalar> = {};
    let fake: Tensor4 | null = null;
    const [d, g] = tf.tidy(() =>
      valueAndGradsOfMany(
        (raw) => {
          const p = this.normalised(raw, v, nets);
          const realD = this.model.discriminate(p, raw, b.xt, b);
          const { x, terms: own = {} } = this.model.generate(p, raw, b);
          const fakeD = this.model.discriminate(p, raw, x, b);
          const terms: Record<string, tf.Scalar> = {
            ...this.content.terms(real, x),
            adv: advGenerator(fakeD.score),
            fm: featureMatching(realD.features, fakeD.features),
            ...own,
          };
          for (const [k, t] of Object.entries(terms)) kept[k] = tf.keep(t);
          scores['dReal'] = tf.keep(tf.mean(realD.score) as tf.Scalar);
          scores['dFake'] = tf.keep(tf.mean(fakeD.score) as tf.Scalar);
          fake = tf.keep(x);
          return [hingeDiscriminator(realD.score, fakeD.score), weightedObjective(terms, w)];
        },
        this.params,
        // D's first: its walk frees D(x)'s saved activations before the longer E/G walk
        [isD, this.isGen],
      ),
    ) as [ValueAndGrads, ValueAndGrads];
    this.content.disposeReal(real);
    const metrics: Record<string, tf.Scalar> = { lossEG: g.value, ...kept };

    // Both updates are applied together: a data-parallel step exchanges them in one collective,
    // one wait for the slower rank fewer.
    const first = { ...g.grads, ...d.grads };
    this.params = this.adam.update(
      this.params,
      this.reducer ? await this.reducer.reduce(first, b, 'E/G and D') : first,
    );
    let last = { value: d.value, scores };

    // ---- D's further updates (paper: 2 in all), on the same detached x_hat ----
    for (let i = 1; i < this.optim.dSteps; i++) {
      tf.dispose([last.value, ...Object.values(last.scores)]);
      const vd = this.iterate(['D']);
      const again: Record<string, tf.Scalar> = {};
      const dn = tf.tidy(() =>
        valueAndGrads(
          (raw) => {
            const p = this.normalised(raw, vd, ['D']);
            const realScore = this.model.discriminate(p, raw, b.xt, b).score;
            const fakeScore = this.model.discriminate(p, raw, fake!, b).score;
            again['dReal'] = tf.keep(tf.mean(realScore) as tf.Scalar);
            again['dFake'] = tf.keep(tf.mean(fakeScore) as tf.Scalar);
            return hingeDiscriminator(realScore, fakeScore);
          },
          this.params,
          isD,
        ),
      );
      disposeTree(vd);
      this.params = this.adam.update(
        this.params,
        this.reducer ? await this.reducer.reduce(dn.grads, b, 'D') : dn.grads,
      );
      last = { value: dn.value, scores: again };
    }
    Object.assign(metrics, { lossD: last.value, ...last.scores });
    disposeTree(v);
    tf.dispose(fake!);
    return readScalars(metrics);
  }

  /** Runs `f` on the spectrally normalised weights (inference: no power-iteration update), in a tidy. */
  infer<T extends tf.TensorContainer>(f: (p: ParamTree) => T): T {
    return tf.tidy(() => {
      const { u, v } = powerIteration(this.params, this.sn, false);
      return f(spectralNorm(this.params, u, v));
    });
  }

  /** The normalised weights as tensors of their own (W / sigma baked in), for export; caller disposes. */
  bakedParams(): ParamTree {
    return this.infer((p) => mapTree(p, (t) => tf.clone(t)));
  }

  dispose(): void {
    disposeTree(this.params);
    disposeTree(this.sn);
    this.adam.dispose();
    this.content.dispose();
  }
}
