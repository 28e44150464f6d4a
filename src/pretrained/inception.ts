/**
 * Inception-v3 as FID uses it (Heusel et al. 2017; the network of pytorch-fid's FIDInceptionA/C/E_1/
 * E_2 blocks, Szegedy et al. 2016): 299 x 299 input in [-1, 1], 2048-D pool3 features. Its weights
 * cannot be downloaded here, so they are the user's to supply: a safetensors file with pytorch-fid's
 * state-dict names and layouts (conv weights [out, in, kh, kw]; BatchNorm weight, bias, running_mean,
 * running_var), e.g. converted from pt_inception-2015-12-05-6726825d.pth with
 * `safetensors.torch.save_file(torch.load(path), 'inception.safetensors')`. Without one, evaluate
 * reports FD-faceapi instead (identity.ts). inception.test.ts checks the architecture's shapes with
 * random weights and the loader's checks.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { tf } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { featuresOf } from './features.js';
import type { RgbImage } from '../media/image.js';

export const INCEPTION_INPUT = 299;
export const INCEPTION_FEATURES = 2048;
const BN_EPS = 0.001;

/** One BasicConv2d (conv without bias, BatchNorm, ReLU): its name and shape. */
interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
}

const conv = (name: string, cin: number, cout: number, kh: number, kw = kh): ConvSpec => ({
  name,
  cin,
  cout,
  kh,
  kw,
});

function blockA(p: string, cin: number, pool: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, cin, 64, 1),
    conv(`${p}.branch5x5_1`, cin, 48, 1),
    conv(`${p}.branch5x5_2`, 48, 64, 5),
    conv(`${p}.branch3x3dbl_1`, cin, 64, 1),
    conv(`${p}.branch3x3dbl_2`, 64, 96, 3),
    conv(`${p}.branch3x3dbl_3`, 96, 96, 3),
    conv(`${p}.branch_pool`, cin, pool, 1),
  ];
}
function blockC(p: string, c7: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, 768, 192, 1),
    conv(`${p}.branch7x7_1`, 768, c7, 1),
    conv(`${p}.branch7x7_2`, c7, c7, 1, 7),
    conv(`${p}.branch7x7_3`, c7, 192, 7, 1),
    conv(`${p}.branch7x7dbl_1`, 768, c7, 1),
    conv(`${p}.branch7x7dbl_2`, c7, c7, 7, 1),
    conv(`${p}.branch7x7dbl_3`, c7, c7, 1, 7),
    conv(`${p}.branch7x7dbl_4`, c7, c7, 7, 1),
    conv(`${p}.branch7x7dbl_5`, c7, 192, 1, 7),
    conv(`${p}.branch_pool`, 768, 192, 1),
  ];
}
function blockE(p: string, cin: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, cin, 320, 1),
    conv(`${p}.branch3x3_1`, cin, 384, 1),
    conv(`${p}.branch3x3_2a`, 384, 384, 1, 3),
    conv(`${p}.branch3x3_2b`, 384, 384, 3, 1),
    conv(`${p}.branch3x3dbl_1`, cin, 448, 1),
    conv(`${p}.branch3x3dbl_2`, 448, 384, 3),
    conv(`${p}.branch3x3dbl_3a`, 384, 384, 1, 3),
    conv(`${p}.branch3x3dbl_3b`, 384, 384, 3, 1),
    conv(`${p}.branch_pool`, cin, 192, 1),
  ];
}

/** Every convolution of the network, in pytorch-fid's names. */
export const INCEPTION_CONVS: readonly ConvSpec[] = [
  conv('Conv2d_1a_3x3', 3, 32, 3),
  conv('Conv2d_2a_3x3', 32, 32, 3),
  conv('Conv2d_2b_3x3', 32, 64, 3),
  conv('Conv2d_3b_1x1', 64, 80, 1),
  conv('Conv2d_4a_3x3', 80, 192, 3),
  ...blockA('Mixed_5b', 192, 32),
  ...blockA('Mixed_5c', 256, 64),
  ...blockA('Mixed_5d', 288, 64),
  conv('Mixed_6a.branch3x3', 288, 384, 3),
  conv('Mixed_6a.branch3x3dbl_1', 288, 64, 1),
  conv('Mixed_6a.branch3x3dbl_2', 64, 96, 3),
  conv('Mixed_6a.branch3x3dbl_3', 96, 96, 3),
  ...blockC('Mixed_6b', 128),
  ...blockC('Mixed_6c', 160),
  ...blockC('Mixed_6d', 160),
  ...blockC('Mixed_6e', 192),
  conv('Mixed_7a.branch3x3_1', 768, 192, 1),
  conv('Mixed_7a.branch3x3_2', 192, 320, 3),
  conv('Mixed_7a.branch7x7x3_1', 768, 192, 1),
  conv('Mixed_7a.branch7x7x3_2', 192, 192, 1, 7),
  conv('Mixed_7a.branch7x7x3_3', 192, 192, 7, 1),
  conv('Mixed_7a.branch7x7x3_4', 192, 192, 3),
  ...blockE('Mixed_7b', 1280),
  ...blockE('Mixed_7c', 2048),
];

/** A layer with BatchNorm folded in: y = relu(conv(x, w) * scale + shift). */
interface Layer {
  w: tf.Tensor4D; // [kh, kw, in, out]
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

export class InceptionV3 {
  private constructor(private readonly layers: Map<string, Layer>) {}

  /** Random weights (for shape tests): He-scaled convs, unit BatchNorm. */
  static random(seed = 0): InceptionV3 {
    const rng = new Rng(seed);
    const layers = new Map<string, Layer>();
    for (const c of INCEPTION_CONVS) {
      const n = c.kh * c.kw * c.cin;
      layers.set(c.name, {
        w: tf.tensor4d(rng.normalArray(n * c.cout, Math.sqrt(2 / n)), [c.kh, c.kw, c.cin, c.cout]),
        scale: tf.ones([c.cout]),
        shift: tf.zeros([c.cout]),
      });
    }
    return new InceptionV3(layers);
  }

  /** pytorch-fid's weights from a safetensors file (see the module comment). */
  static load(path: string): InceptionV3 {
    let tensors: ReturnType<typeof decodeSafetensors>['tensors'];
    try {
      tensors = decodeSafetensors(readFileSync(path)).tensors;
    } catch (e) {
      throw new InputError(`Cannot read Inception-v3 weights "${path}": ${(e as Error).message}`);
    }
    const get = (name: string, shape: number[]) => {
      const t = tensors.get(name);
      if (!t)
        throw new InputError(
          `Inception-v3 weights "${path}": no tensor "${name}" (pytorch-fid's state-dict names expected)`,
        );
      if (t.shape.join() !== shape.join() || t.dtype !== 'F32')
        throw new InputError(
          `Inception-v3 weights "${path}": "${name}" is ${t.dtype} [${t.shape}], expected F32 [${shape}]`,
        );
      return t.data as Float32Array;
    };
    const layers = new Map<string, Layer>();
    for (const c of INCEPTION_CONVS) {
      const oihw = get(`${c.name}.conv.weight`, [c.cout, c.cin, c.kh, c.kw]);
      const hwio = new Float32Array(oihw.length);
      for (let o = 0; o < c.cout; o++)
        for (let i = 0; i < c.cin; i++)
          for (let y = 0; y < c.kh; y++)
            for (let x = 0; x < c.kw; x++)
              hwio[((y * c.kw + x) * c.cin + i) * c.cout + o] =
                oihw[((o * c.cin + i) * c.kh + y) * c.kw + x]!;
      const g = get(`${c.name}.bn.weight`, [c.cout]);
      const b = get(`${c.name}.bn.bias`, [c.cout]);
      const m = get(`${c.name}.bn.running_mean`, [c.cout]);
      const v = get(`${c.name}.bn.running_var`, [c.cout]);
      const scale = g.map((gi, k) => gi / Math.sqrt(v[k]! + BN_EPS));
      const shift = b.map((bi, k) => bi - m[k]! * scale[k]!);
      layers.set(c.name, {
        w: tf.tensor4d(hwio, [c.kh, c.kw, c.cin, c.cout]),
        scale: tf.tensor1d(scale),
        shift: tf.tensor1d(shift),
      });
    }
    return new InceptionV3(layers);
  }

  private c(x: tf.Tensor4D, name: string, stride = 1, pad: 'same' | 'valid' = 'same'): tf.Tensor4D {
    const l = this.layers.get(name)!;
    return tf.relu(tf.add(tf.mul(tf.conv2d(x, l.w, stride, pad), l.scale), l.shift)) as tf.Tensor4D;
  }

  private a(x: tf.Tensor4D, p: string): tf.Tensor4D {
    const b1 = this.c(x, `${p}.branch1x1`);
    const b5 = this.c(this.c(x, `${p}.branch5x5_1`), `${p}.branch5x5_2`);
    const b3 = this.c(this.c(this.c(x, `${p}.branch3x3dbl_1`), `${p}.branch3x3dbl_2`), `${p}.branch3x3dbl_3`);
    // average pooling without the padding in the count (pytorch-fid's count_include_pad=False)
    const bp = this.c(tf.avgPool(x, 3, 1, 'same'), `${p}.branch_pool`);
    return tf.concat([b1, b5, b3, bp], 3);
  }

  private cBlock(x: tf.Tensor4D, p: string): tf.Tensor4D {
    const b1 = this.c(x, `${p}.branch1x1`);
    let b7 = this.c(x, `${p}.branch7x7_1`);
    b7 = this.c(this.c(b7, `${p}.branch7x7_2`), `${p}.branch7x7_3`);
    let bd = this.c(x, `${p}.branch7x7dbl_1`);
    for (const k of [2, 3, 4, 5]) bd = this.c(bd, `${p}.branch7x7dbl_${k}`);
    const bp = this.c(tf.avgPool(x, 3, 1, 'same'), `${p}.branch_pool`);
    return tf.concat([b1, b7, bd, bp], 3);
  }

  private e(x: tf.Tensor4D, p: string, maxPool: boolean): tf.Tensor4D {
    const b1 = this.c(x, `${p}.branch1x1`);
    const b3 = this.c(x, `${p}.branch3x3_1`);
    const b3s = tf.concat([this.c(b3, `${p}.branch3x3_2a`), this.c(b3, `${p}.branch3x3_2b`)], 3);
    const bd = this.c(this.c(x, `${p}.branch3x3dbl_1`), `${p}.branch3x3dbl_2`);
    const bds = tf.concat([this.c(bd, `${p}.branch3x3dbl_3a`), this.c(bd, `${p}.branch3x3dbl_3b`)], 3);
    const pooled = maxPool ? tf.maxPool(x, 3, 1, 'same') : tf.avgPool(x, 3, 1, 'same');
    return tf.concat([b1, b3s, bds, this.c(pooled, `${p}.branch_pool`)], 3);
  }

  /** pool3 features of x [B, 299, 299, 3] in [-1, 1]: [B, 2048]. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    if (x.shape[1] !== INCEPTION_INPUT || x.shape[2] !== INCEPTION_INPUT || x.shape[3] !== 3)
      throw new RangeError(`Inception-v3 takes [B, 299, 299, 3], got [${x.shape}]`);
    return tf.tidy(() => {
      let h = this.c(x, 'Conv2d_1a_3x3', 2, 'valid');
      h = this.c(h, 'Conv2d_2a_3x3', 1, 'valid');
      h = this.c(h, 'Conv2d_2b_3x3');
      h = tf.maxPool(h, 3, 2, 'valid');
      h = this.c(h, 'Conv2d_3b_1x1', 1, 'valid');
      h = this.c(h, 'Conv2d_4a_3x3', 1, 'valid');
      h = tf.maxPool(h, 3, 2, 'valid');
      for (const p of ['Mixed_5b', 'Mixed_5c', 'Mixed_5d']) h = this.a(h, p);
      // Mixed_6a (InceptionB)
      const b3 = this.c(h, 'Mixed_6a.branch3x3', 2, 'valid');
      let bd = this.c(this.c(h, 'Mixed_6a.branch3x3dbl_1'), 'Mixed_6a.branch3x3dbl_2');
      bd = this.c(bd, 'Mixed_6a.branch3x3dbl_3', 2, 'valid');
      h = tf.concat([b3, bd, tf.maxPool(h, 3, 2, 'valid')], 3);
      for (const p of ['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e']) h = this.cBlock(h, p);
      // Mixed_7a (InceptionD)
      const d3 = this.c(this.c(h, 'Mixed_7a.branch3x3_1'), 'Mixed_7a.branch3x3_2', 2, 'valid');
      let d7 = this.c(h, 'Mixed_7a.branch7x7x3_1');
      d7 = this.c(this.c(d7, 'Mixed_7a.branch7x7x3_2'), 'Mixed_7a.branch7x7x3_3');
      d7 = this.c(d7, 'Mixed_7a.branch7x7x3_4', 2, 'valid');
      h = tf.concat([d3, d7, tf.maxPool(h, 3, 2, 'valid')], 3);
      h = this.e(h, 'Mixed_7b', false);
      h = this.e(h, 'Mixed_7c', true);
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    });
  }

  /** pool3 features of 8-bit images (resized to 299, bilinear), in batches. */
  features(images: RgbImage[], batch = 8): Float32Array[] {
    return featuresOf(images, (x) => this.forward(x), INCEPTION_FEATURES, INCEPTION_INPUT, batch);
  }

  dispose(): void {
    for (const l of this.layers.values()) [l.w, l.scale, l.shift].forEach((t) => t.dispose());
  }
}
