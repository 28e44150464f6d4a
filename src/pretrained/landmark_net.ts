/**
 * face-api's 68-point landmark net (FaceLandmark68Net: four dense blocks of depthwise-separable
 * convolutions on a 112 x 112 face crop, average pool, a fully connected layer to 136 coordinates),
 * with its bundled weights, written with our own ops so a batch of crops runs as a handful of large
 * kernels: face-api's own forward spends as long building and post-processing tensors (fill, stack,
 * per-image padding) as in the network. landmark_net.test.ts holds it to face-api's forward.
 */
import { CONV_BIAS_KERNEL, hasFused } from '../engine/fused.js';
import { tf } from '../engine/tf.js';
import { findFaceModels, readFaceApiWeights } from './faceapi_files.js';

export const LANDMARK_INPUT = 112;
/** face-api's input normalisation: (RGB - mean) / 255 */
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

type T4 = tf.Tensor4D;

export class LandmarkNet {
  private constructor(private readonly w: Map<string, tf.Tensor>) {}

  static load(): LandmarkNet {
    const dir = findFaceModels();
    if (!dir) throw new Error('Face models not found: @vladmandic/face-api is not installed (run npm ci)');
    return new LandmarkNet(readFaceApiWeights(dir, 'face_landmark_68_model'));
  }

  private p(name: string): tf.Tensor {
    const t = this.w.get(name);
    if (!t) throw new Error(`landmark net: no weight "${name}"`);
    return t;
  }

  /** conv + bias, in one kernel where the backend has it */
  private conv(x: T4, filter: tf.Tensor, bias: tf.Tensor, stride: number): T4 {
    const f = filter as T4;
    if (hasFused(CONV_BIAS_KERNEL)) {
      const attrs = {
        strides: stride,
        pad: 'same',
        dataFormat: 'NHWC',
        dilations: 1,
        dimRoundingMode: undefined,
      };
      return tf.engine().runKernel(CONV_BIAS_KERNEL, { x, filter: f, bias }, attrs as never) as T4;
    }
    return tf.add(tf.conv2d(x, f, stride, 'same'), bias);
  }

  /** depthwise 3x3 (stride s) then pointwise 1x1 + bias: face-api's depthwiseSeparableConv */
  private separable(x: T4, name: string, stride: number): T4 {
    const d = tf.depthwiseConv2d(x, this.p(`${name}.depthwise_filter`) as T4, stride, 'same');
    return this.conv(d, this.p(`${name}.pointwise_filter`), this.p(`${name}.bias`), 1);
  }

  /** face-api's denseBlock4: each conv sees the sum of the block's earlier outputs */
  private dense(x: T4, block: string, first: boolean): T4 {
    const out1 = tf.relu(
      first
        ? this.conv(x, this.p(`${block}.conv0.filters`), this.p(`${block}.conv0.bias`), 2)
        : this.separable(x, `${block}.conv0`, 2),
    ) as T4;
    const out2 = this.separable(out1, `${block}.conv1`, 1);
    const in3 = tf.relu(tf.add(out1, out2)) as T4;
    const out3 = this.separable(in3, `${block}.conv2`, 1);
    const in4 = tf.relu(tf.addN([out1, out2, out3])) as T4;
    const out4 = this.separable(in4, `${block}.conv3`, 1);
    return tf.relu(tf.addN([out1, out2, out3, out4])) as T4;
  }

  /**
   * 68 landmarks of each LANDMARK_INPUT² RGB crop, in crop pixels: [B x 136] as (x, y) pairs.
   */
  async predict(crops: Uint8Array[]): Promise<Float32Array[]> {
    const n = LANDMARK_INPUT;
    const px = n * n * 3;
    for (const c of crops)
      if (c.length !== px) throw new RangeError(`landmarks: ${c.length} bytes, not a ${n}x${n} RGB crop`);
    if (crops.length === 0) return [];
    const input = new Float32Array(crops.length * px);
    crops.forEach((c, b) => {
      const o = b * px;
      for (let i = 0; i < px; i += 3) {
        input[o + i] = (c[i]! - MEAN_RGB[0]) / 255;
        input[o + i + 1] = (c[i + 1]! - MEAN_RGB[1]) / 255;
        input[o + i + 2] = (c[i + 2]! - MEAN_RGB[2]) / 255;
      }
    });
    const out = tf.tidy(() => {
      let h = tf.tensor4d(input, [crops.length, n, n, 3]);
      h = this.dense(h, 'dense0', true);
      h = this.dense(h, 'dense1', false);
      h = this.dense(h, 'dense2', false);
      h = this.dense(h, 'dense3', false);
      const pooled = tf.reshape(tf.avgPool(h, [7, 7], [2, 2], 'valid'), [crops.length, -1]) as tf.Tensor2D;
      // relative coordinates in [0, 1] of the crop -> crop pixels
      return tf.mul(tf.add(tf.matMul(pooled, this.p('fc.weights') as tf.Tensor2D), this.p('fc.bias')), n);
    });
    const flat = (await out.data()) as Float32Array;
    out.dispose();
    return crops.map((_, i) => flat.slice(i * 136, (i + 1) * 136));
  }

  dispose(): void {
    for (const t of this.w.values()) t.dispose();
  }
}
