/**
 * Loss terms of Zakharov et al. 2019, sec. 3.2 (docs/design.md sec. 4), each a function returning a
 * scalar; the trainer weights them (a weight of 0 switches a term off) and logs them by name.
 */
import { tf } from '../engine/tf.js';
import type { GeneratorParts } from '../models/networks.js';
import type { Tensor4 } from '../nn/layers.js';

const l1 = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar;

/** Pixel L1 between real and generated images ([-1, 1]): the part of L_CNT available without VGG. */
export function pixelL1(real: Tensor4, fake: Tensor4): tf.Scalar {
  return l1(real, fake);
}

/**
 * L1 inside the mouth region (`mask` [B, R, R, 1] in {0, 1}, faces/landmarks.ts mouthMask), as a
 * mean over the region's pixels: not in the paper. Pixel L1 averages over the whole frame, where
 * teeth and a smile's lips are ~3% of the pixels; a generator that blends in a source warp
 * (models/networks.ts) can then leave a warped closed mouth where the target smiles.
 */
export function mouthL1(real: Tensor4, fake: Tensor4, mask: Tensor4): tf.Scalar {
  const area = tf.add(tf.mul(tf.sum(mask), real.shape[3]!), 1e-6);
  return tf.div(tf.sum(tf.mul(tf.abs(tf.sub(real, fake)), mask)), area) as tf.Scalar;
}

/**
 * A generated frame's terms beside L_CNT (none in the paper): the mouth region's L1 when `mouth`
 * regions are given, and for a generator that blends in a source warp its drawing's L1 and the
 * share of the frame it draws, 1 - mean m (weights `mouth`, `drawn`, `drawnArea`).
 */
export function generatorTerms(real: Tensor4, g: GeneratorParts, mouth?: Tensor4): Record<string, tf.Scalar> {
  return {
    ...(mouth ? { mouth: mouthL1(real, g.x, mouth) } : {}),
    ...(g.drawn ? { drawn: pixelL1(real, g.drawn) } : {}),
    ...(g.mask ? { drawnArea: tf.sub(1, tf.mean(g.mask)) as tf.Scalar } : {}),
  };
}

/** Feature L1 summed over layers (L_CNT's form, used with any frozen feature network). */
export function featureL1(real: tf.Tensor[], fake: tf.Tensor[], weights?: number[]): tf.Scalar {
  if (real.length !== fake.length)
    throw new RangeError(`featureL1: ${real.length} real vs ${fake.length} fake feature maps`);
  return tf.addN(real.map((r, i) => tf.mul(l1(r, fake[i]!), weights?.[i] ?? 1))) as tf.Scalar;
}

/** L_ADV's realism part: -D(x_hat) (the generator maximises the score; no sigmoid). */
export function advGenerator(fakeScore: tf.Tensor1D): tf.Scalar {
  return tf.neg(tf.mean(fakeScore)) as tf.Scalar;
}

/** L_FM: L1 between the discriminator's activations after each residual block, real vs fake. */
export function featureMatching(realFeatures: Tensor4[], fakeFeatures: Tensor4[]): tf.Scalar {
  return featureL1(realFeatures, fakeFeatures);
}

/** L_MCH: L1 between the embedding e_hat_i and the discriminator's column W_i. */
export function embeddingMatch(eHat: tf.Tensor2D, wColumns: tf.Tensor2D): tf.Scalar {
  return l1(eHat, wColumns);
}

/** L_DSC, hinge: max(0, 1 + D(x_hat)) + max(0, 1 - D(x)). */
export function hingeDiscriminator(realScore: tf.Tensor1D, fakeScore: tf.Tensor1D): tf.Scalar {
  return tf.add(tf.mean(tf.relu(tf.sub(1, realScore))), tf.mean(tf.relu(tf.add(1, fakeScore)))) as tf.Scalar;
}

export interface LossWeights {
  /** pixel L1 (stands in for the VGG19 part of L_CNT, which is not available offline) */
  pixel: number;
  /** identity features (face-api's face-recognition ResNet in VGGFace's role) */
  identity: number;
  /** general perceptual features (face-api's MobileNetV1 backbone in VGG19's role) */
  perceptual: number;
  /** L_ADV realism term */
  adv: number;
  /** lambda_FM (paper: 10) */
  fm: number;
  /** lambda_MCH (paper: 80; 0 = the feed-forward variant) */
  mch: number;
  /** L1 in the mouth region (mouthL1; not in the paper; 0 = off) */
  mouth: number;
  /**
   * L1 on G's own drawing before a source warp is blended in (not in the paper; 0 = off). Without
   * it the blend's mask saturates towards the warp and the drawing stops being a face: it becomes a
   * large correction scaled down by 1 - m, and where the warp cannot explain the target (a smile's
   * teeth) G has nothing to offer (docs/design.md sec. 3.5).
   */
  drawn: number;
  /**
   * Weight of the mean share of the frame G draws itself, 1 - m (not in the paper; 0 = off): a
   * pixel leaves the warp only where the drawing beats it by more than this over the blend's L1
   * weight (a smile's teeth), not wherever the two are about as good (docs/design.md sec. 3.5).
   */
  drawnArea: number;
  /**
   * Fine-tuning only (not in the paper; 0 = off): L1 between G' and the feed-forward G' on
   * expressions the T frames do not show, so that fitting one photo does not unlearn them
   * (finetune.ts `anchor`).
   */
  anchor: number;
}

export const PAPER_WEIGHTS: LossWeights = {
  pixel: 10,
  identity: 0,
  perceptual: 0,
  adv: 1,
  fm: 10,
  mch: 80,
  mouth: 0,
  drawn: 0,
  drawnArea: 0,
  anchor: 0,
};
