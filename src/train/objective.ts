/**
 * Loss assembly shared by meta-learning (sec. 3.2) and fine-tuning (sec. 3.3): the frozen content
 * networks of L_CNT, and one function that weights the named terms into the E/G objective. Both
 * steps build the same terms by name (pixel, identity, perceptual, vgg19, vggface, adv, fm and, in
 * meta-learning only, mch), so a weight means the same thing in both and the metrics line up.
 */
import { tf } from '../engine/tf.js';
import { FaceIdNet } from '../pretrained/faceid.js';
import type { Tensor4 } from '../nn/layers.js';
import { MobileNetV1 } from '../pretrained/mobilenet.js';
import { CONTENT_WEIGHTS, Vgg } from '../pretrained/vgg.js';
import { featureL1, pixelL1, type LossWeights } from './losses.js';

/** Features of the real images, computed once per step (constants of the E/G update). */
export interface RealContent {
  x: Tensor4;
  identity: tf.Tensor[];
  perceptual: tf.Tensor[];
  vgg: tf.Tensor[][];
}

export interface ContentNetFiles {
  vgg19?: string | undefined;
  vggface?: string | undefined;
}

/** L_CNT's frozen networks: loaded when their weight is non-zero (or their weights are supplied). */
export class ContentLoss {
  readonly faceId: FaceIdNet | null;
  readonly mobilenet: MobileNetV1 | null;
  readonly vgg: Vgg[];

  constructor(weights: LossWeights, files: ContentNetFiles = {}) {
    this.faceId = weights.identity > 0 ? FaceIdNet.load() : null;
    this.mobilenet = weights.perceptual > 0 ? MobileNetV1.load() : null;
    this.vgg = [];
    if (files.vgg19) this.vgg.push(Vgg.fromSafetensors('vgg19', files.vgg19));
    if (files.vggface) this.vgg.push(Vgg.fromSafetensors('vggface', files.vggface));
  }

  /** The real images' features; dispose with `disposeReal`. */
  real(x: Tensor4): RealContent {
    return {
      x,
      identity: this.faceId ? tf.tidy(() => this.faceId!.forward(x).features) : [],
      perceptual: this.mobilenet ? tf.tidy(() => this.mobilenet!.features(x)) : [],
      vgg: this.vgg.map((net) => tf.tidy(() => net.features(x))),
    };
  }

  disposeReal(r: RealContent): void {
    tf.dispose([...r.identity, ...r.perceptual, ...r.vgg.flat()]);
  }

  /** L_CNT's named terms for generated images `fake` (unweighted). */
  terms(real: RealContent, fake: Tensor4): Record<string, tf.Scalar> {
    const t: Record<string, tf.Scalar> = { pixel: pixelL1(real.x, fake) };
    if (this.faceId) t['identity'] = featureL1(real.identity, this.faceId.forward(fake).features);
    if (this.mobilenet) t['perceptual'] = featureL1(real.perceptual, this.mobilenet.features(fake));
    this.vgg.forEach((net, i) => (t[net.kind] = featureL1(real.vgg[i]!, net.features(fake))));
    return t;
  }

  /** What L_CNT is made of, for a run's config.json. */
  describe(weights: LossWeights): string {
    const parts = [`pixel L1 x ${weights.pixel}`];
    if (weights.mouth > 0) parts.push(`mouth-region L1 x ${weights.mouth}`);
    if (weights.drawn > 0) parts.push(`L1 on the drawing before the source warp x ${weights.drawn}`);
    if (weights.drawnArea > 0) parts.push(`share of the frame drawn, not warped x ${weights.drawnArea}`);
    if (this.faceId) parts.push(`face-api identity features x ${weights.identity}`);
    if (this.mobilenet) parts.push(`face-api MobileNetV1 features x ${weights.perceptual}`);
    for (const v of this.vgg) parts.push(`${v.kind} x ${CONTENT_WEIGHTS[v.kind]}`);
    return parts.join(' + ');
  }

  dispose(): void {
    this.faceId?.dispose();
    this.mobilenet?.dispose();
    for (const v of this.vgg) v.dispose();
  }
}

/** The weight of a named term; terms without one (metrics such as eAlive) are not in the loss. */
export function termWeight(name: string, w: LossWeights): number {
  switch (name) {
    case 'pixel':
    case 'identity':
    case 'perceptual':
    case 'adv':
    case 'fm':
    case 'mch':
    case 'mouth':
    case 'drawn':
    case 'drawnArea':
    case 'anchor':
      return w[name];
    case 'vgg19':
    case 'vggface':
      return CONTENT_WEIGHTS[name];
    default:
      return 0;
  }
}

/** sum_k w_k term_k over the terms with a non-zero weight: the E/G (or G) objective. */
export function weightedObjective(terms: Record<string, tf.Scalar>, w: LossWeights): tf.Scalar {
  const parts = Object.entries(terms)
    .filter(([name]) => termWeight(name, w) !== 0)
    .map(([name, t]) => tf.mul(t, termWeight(name, w)) as tf.Scalar);
  if (parts.length === 0) throw new RangeError('The objective has no term with a non-zero weight');
  return tf.addN(parts) as tf.Scalar;
}

/** The adversarial weights (realism, feature matching, L_MCH) scaled by the warm-up factor. */
export function scaleAdversarial(w: LossWeights, scale: number): LossWeights {
  return { ...w, adv: w.adv * scale, fm: w.fm * scale, mch: w.mch * scale };
}
