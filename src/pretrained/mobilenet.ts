/**
 * The MobileNetV1 backbone of face-api's SSD face detector, with its bundled weights, as the general
 * perceptual network in VGG19's role for L_CNT (docs/design.md sec. 4) — VGG19 itself cannot be downloaded
 * here. Depthwise convolutions are written as nine shifted, per-channel-scaled copies of the input, so
 * they train on every backend (tfjs-backend-wasm has no depthwise gradient kernels); the test checks
 * them against tf.depthwiseConv2d.
 */
import { findFaceModels } from './faceapi_files.js';
import { tf } from '../engine/tf.js';
import { loadFaceApiWeights } from './faceid.js';
import type { Tensor4 } from '../nn/layers.js';
import { disposeTree, type ParamTree } from '../nn/params.js';

const BN_EPSILON = 0.0010000000474974513;
/** Layers (1-based pair index) whose depthwise conv has stride 2. */
const STRIDE2 = new Set([2, 4, 6, 12]);
/** Pointwise outputs used as content features: 1/2, 1/4, 1/8 and 1/16 of the input size. */
export const MOBILENET_FEATURE_LAYERS = [1, 3, 5, 11];

/**
 * Depthwise 3x3 convolution with TF 'same' padding: x [B,H,W,C], w [3,3,C,1]. The stride-2 case
 * takes every other output of the stride-1 result that TF's padding (extra row/column at the
 * bottom/right) lines up with.
 */
export function depthwise3x3(x: Tensor4, w: tf.Tensor4D, stride: 1 | 2): Tensor4 {
  const [b, h, wd, c] = x.shape;
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(wd / stride);
  // TF 'same': total padding (out-1)*s + k - in, the smaller half at the top/left.
  const ph = Math.max(0, (oh - 1) * stride + 3 - h);
  const pw = Math.max(0, (ow - 1) * stride + 3 - wd);
  const top = Math.floor(ph / 2);
  const left = Math.floor(pw / 2);
  const padded = tf.pad(x, [
    [0, 0],
    [top, ph - top + stride],
    [left, pw - left + stride],
    [0, 0],
  ]) as Tensor4;
  const taps: tf.Tensor[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      let tap: tf.Tensor = tf.slice(padded, [0, ky, kx, 0], [b, oh * stride, ow * stride, c]);
      if (stride === 2) {
        tap = tf.reshape(tap, [b, oh, 2, ow, 2, c]);
        tap = tf.reshape(tf.slice(tap, [0, 0, 0, 0, 0, 0], [b, oh, 1, ow, 1, c]), [b, oh, ow, c]);
      }
      taps.push(tf.mul(tap, tf.reshape(tf.slice(w, [ky, kx, 0, 0], [1, 1, c, 1]), [c])));
    }
  }
  return tf.addN(taps) as Tensor4;
}

const relu6 = (x: tf.Tensor) => tf.clipByValue(x, 0, 6) as Tensor4;

export class MobileNetV1 {
  private constructor(private readonly params: ParamTree) {}

  static load(): MobileNetV1 {
    const dir = findFaceModels();
    if (!dir) throw new Error('Face models not found: @vladmandic/face-api is not installed (run npm ci)');
    const all = loadFaceApiWeights(dir, 'ssd_mobilenetv1_model');
    const backbone = all['MobilenetV1'] as ParamTree;
    for (const [k, v] of Object.entries(all)) if (k !== 'MobilenetV1') disposeTree(v as ParamTree);
    return new MobileNetV1(backbone);
  }

  /** Content features of images in [-1, 1] (the detector's own input range). Differentiable. */
  features(x: Tensor4, depthwise: typeof depthwise3x3 = depthwise3x3): Tensor4[] {
    const p = this.params;
    const layer = (name: string) => p[name] as ParamTree;
    const conv0 = layer('Conv2d_0_pointwise');
    let h = relu6(
      tf.add(
        tf.conv2d(x, conv0['weights'] as tf.Tensor4D, 2, 'same'),
        conv0['convolution_bn_offset'] as tf.Tensor,
      ),
    );
    const out: Tensor4[] = [];
    const last = Math.max(...MOBILENET_FEATURE_LAYERS);
    for (let i = 1; i <= last; i++) {
      const dw = layer(`Conv2d_${i}_depthwise`);
      const bn = dw['BatchNorm'] as ParamTree;
      h = depthwise(h, dw['depthwise_weights'] as tf.Tensor4D, STRIDE2.has(i) ? 2 : 1);
      h = relu6(
        tf.batchNorm(
          h,
          bn['moving_mean'] as tf.Tensor1D,
          bn['moving_variance'] as tf.Tensor1D,
          bn['beta'] as tf.Tensor1D,
          bn['gamma'] as tf.Tensor1D,
          BN_EPSILON,
        ),
      );
      const pw = layer(`Conv2d_${i}_pointwise`);
      h = relu6(
        tf.add(
          tf.conv2d(h, pw['weights'] as tf.Tensor4D, 1, 'same'),
          pw['convolution_bn_offset'] as tf.Tensor,
        ),
      );
      if (MOBILENET_FEATURE_LAYERS.includes(i)) out.push(h);
    }
    return out;
  }

  dispose(): void {
    disposeTree(this.params);
  }
}
