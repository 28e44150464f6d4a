/**
 * VGG19 and VGGFace (VGG16 layout) for the paper's content loss L_CNT (docs/design.md sec. 4), from
 * weights the user supplies as a safetensors file (neither network can be downloaded here).
 * Expected tensor names follow torchvision's `features.N.weight` [out, in, 3, 3] / `features.N.bias`;
 * weights are converted to HWIO. Inputs are Caffe-style: BGR, 0..255, mean-subtracted.
 */
import { readFileSync } from 'node:fs';
import { tf, type Tensor } from '../engine/tf.js';
import { decodeSafetensors } from '../io/safetensors.js';
import type { Tensor4 } from '../nn/layers.js';

/** Conv output channels per block; 'M' = 2x2 max pool. */
export const LAYOUTS = {
  vgg19: [
    64,
    64,
    'M',
    128,
    128,
    'M',
    256,
    256,
    256,
    256,
    'M',
    512,
    512,
    512,
    512,
    'M',
    512,
    512,
    512,
    512,
    'M',
  ],
  vggface: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
} as const;

/**
 * Indices (in torchvision's `features` numbering, where each conv, ReLU and pool takes one index)
 * of the activations the paper compares: VGG19 conv1, 6, 11, 20, 29; VGGFace conv1, 6, 11, 18, 25.
 */
export const CONTENT_LAYERS = { vgg19: [1, 6, 11, 20, 29], vggface: [1, 6, 11, 18, 25] } as const;
/** Paper weights of the two feature terms (sec. 3.2). */
export const CONTENT_WEIGHTS = { vgg19: 1e-2, vggface: 2e-3 } as const;

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

export type VggKind = keyof typeof LAYOUTS;

interface Conv {
  index: number;
  weight: Tensor; // [3, 3, in, out]
  bias: Tensor;
}

export class Vgg {
  private constructor(
    readonly kind: VggKind,
    private readonly convs: Conv[],
  ) {}

  /** Loads weights from a safetensors file; every conv of the layout must be present with its shape. */
  static fromSafetensors(kind: VggKind, path: string): Vgg {
    const { tensors } = decodeSafetensors(readFileSync(path), path);
    const convs: Conv[] = [];
    let index = 0;
    let cin = 3;
    for (const item of LAYOUTS[kind]) {
      if (item === 'M') {
        index += 1;
        continue;
      }
      const w = tensors.get(`features.${index}.weight`);
      const b = tensors.get(`features.${index}.bias`);
      const want = [item, cin, 3, 3];
      if (!w || !b)
        throw new Error(
          `Cannot load ${kind} from "${path}": missing tensor "features.${index}.${w ? 'bias' : 'weight'}"`,
        );
      if (w.shape.join() !== want.join() || b.shape.join() !== String(item)) {
        throw new Error(
          `Cannot load ${kind} from "${path}": "features.${index}.weight" has shape [${w.shape}], expected [${want}]`,
        );
      }
      const weight = tf.tidy(() => tf.transpose(tf.tensor(w.data as Float32Array, w.shape), [2, 3, 1, 0])); // OIHW -> HWIO
      convs.push({ index, weight, bias: tf.tensor(b.data as Float32Array, b.shape) });
      index += 2; // conv + ReLU
      cin = item;
    }
    return new Vgg(kind, convs);
  }

  /** Activations at CONTENT_LAYERS for images in [-1, 1] (RGB). */
  features(x: Tensor4): Tensor4[] {
    const want = new Set<number>(CONTENT_LAYERS[this.kind]);
    const out: Tensor4[] = [];
    // [-1, 1] RGB -> Caffe: BGR, 0..255, minus the mean
    let h = tf.sub(tf.reverse(tf.mul(tf.add(x, 1), 127.5), 3), tf.tensor1d(CAFFE_MEAN_BGR)) as Tensor4;
    let index = 0;
    let ci = 0;
    const last = Math.max(...want);
    for (const item of LAYOUTS[this.kind]) {
      if (index > last) break;
      if (item === 'M') {
        h = tf.maxPool(h, 2, 2, 'valid');
        if (want.has(index)) out.push(h);
        index += 1;
        continue;
      }
      const c = this.convs[ci++]!;
      h = tf.add(tf.conv2d(h, c.weight as tf.Tensor4D, 1, 'same'), c.bias) as Tensor4;
      if (want.has(index)) out.push(h);
      h = tf.relu(h);
      if (want.has(index + 1)) out.push(h);
      index += 2;
    }
    return out;
  }

  dispose(): void {
    tf.dispose(this.convs.flatMap((c) => [c.weight, c.bias]));
  }
}
