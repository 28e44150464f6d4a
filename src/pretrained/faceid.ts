/**
 * The face-recognition ResNet of @vladmandic/face-api (a dlib-style ResNet-34 producing a 128-d face
 * descriptor), implemented here with our own ops so that gradients flow through it: the identity
 * network in VGGFace's role for L_CNT (docs/design.md sec. 4), and the embedding for CSIM-style metrics.
 * Weights are read from the npm package's bundled, uint8-quantised files; nothing is downloaded.
 * faceid.test.ts checks the descriptor against face-api's own implementation.
 */
import { findFaceModels, readFaceApiWeights } from './faceapi_files.js';
import { tf, type Tensor } from '../engine/tf.js';
import type { Tensor4 } from '../nn/layers.js';
import { disposeTree, flatten, unflatten, type ParamTree } from '../nn/params.js';

/** Reads a face-api weights manifest + .bin into a tree keyed by the manifest's path segments. */
export function loadFaceApiWeights(modelDir: string, model: string): ParamTree {
  return unflatten(readFaceApiWeights(modelDir, model));
}

const MEAN_RGB = [122.782, 117.001, 104.298];
export const FACEID_INPUT = 150;

function convLayer(p: ParamTree, x: Tensor4, stride: 1 | 2, relu: boolean): Tensor4 {
  const c = p['conv'] as ParamTree;
  const s = p['scale'] as ParamTree;
  const padding = stride === 2 ? 'valid' : 'same';
  let y = tf.add(tf.conv2d(x, c['filters'] as tf.Tensor4D, stride, padding), c['bias'] as Tensor);
  y = tf.add(tf.mul(y, s['weights'] as Tensor), s['biases'] as Tensor);
  return (relu ? tf.relu(y) : y) as Tensor4;
}

function residual(p: ParamTree, x: Tensor4): Tensor4 {
  const out = convLayer(p['conv2'] as ParamTree, convLayer(p['conv1'] as ParamTree, x, 1, true), 1, false);
  return tf.relu(tf.add(out, x)) as Tensor4;
}

/** Down block: strided valid conv on the main path; the skip is average-pooled and zero-padded. */
function residualDown(p: ParamTree, x: Tensor4): Tensor4 {
  let out = convLayer(p['conv2'] as ParamTree, convLayer(p['conv1'] as ParamTree, x, 2, true), 1, false);
  let pooled = tf.avgPool(x, 2, 2, 'valid') as Tensor4;
  if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
    // the valid strided conv can be one pixel smaller: pad it at the bottom/right
    out = tf.pad(out, [
      [0, 0],
      [0, pooled.shape[1] - out.shape[1]],
      [0, pooled.shape[2] - out.shape[2]],
      [0, 0],
    ]) as Tensor4;
  }
  if (pooled.shape[3] !== out.shape[3]) {
    pooled = tf.concat([pooled, tf.zerosLike(pooled)], 3) as Tensor4;
  }
  return tf.relu(tf.add(pooled, out)) as Tensor4;
}

export interface FaceIdOutput {
  /** activations after each stage (32, 64, 128, 256 channels): the features for L_CNT */
  features: Tensor4[];
  /** the 128-d face descriptor */
  descriptor: tf.Tensor2D;
}

const STAGES: [string, string[]][] = [
  ['conv32', ['conv32_1', 'conv32_2', 'conv32_3']],
  ['conv64', ['conv64_down', 'conv64_1', 'conv64_2', 'conv64_3']],
  ['conv128', ['conv128_down', 'conv128_1', 'conv128_2']],
  ['conv256', ['conv256_down', 'conv256_1', 'conv256_2']],
];

export class FaceIdNet {
  private constructor(readonly params: ParamTree) {}

  static load(): FaceIdNet {
    const dir = findFaceModels();
    if (!dir) throw new Error('Face models not found: @vladmandic/face-api is not installed (run npm ci)');
    return new FaceIdNet(loadFaceApiWeights(dir, 'face_recognition_model'));
  }

  /**
   * x: images [B, H, W, 3] in [-1, 1] (face crops). They are resized to 150x150 and normalised as
   * face-api does ((RGB x 255 - mean) / 255). Differentiable in x.
   */
  forward(x: Tensor4): FaceIdOutput {
    const p = this.params;
    const size: [number, number] = [FACEID_INPUT, FACEID_INPUT];
    let h =
      x.shape[1] === FACEID_INPUT && x.shape[2] === FACEID_INPUT
        ? x
        : tf.image.resizeBilinear(x, size, false, true);
    h = tf.div(tf.sub(tf.mul(tf.add(h, 1), 127.5), tf.tensor1d(MEAN_RGB)), 255) as Tensor4;
    h = convLayer(p['conv32_down'] as ParamTree, h, 2, true);
    h = tf.maxPool(h, 3, 2, 'valid');
    const features: Tensor4[] = [];
    for (const [, blocks] of STAGES) {
      for (const b of blocks)
        h = b.endsWith('_down') ? residualDown(p[b] as ParamTree, h) : residual(p[b] as ParamTree, h);
      features.push(h);
    }
    h = residualDown(p['conv256_down_out'] as ParamTree, h);
    const descriptor = tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, p['fc'] as tf.Tensor2D) as tf.Tensor2D;
    return { features, descriptor };
  }

  get numParams(): number {
    let n = 0;
    for (const t of flatten(this.params).values()) n += t.size;
    return n;
  }

  dispose(): void {
    disposeTree(this.params);
  }
}
