/**
 * ArcFace's IResNet (Deng et al. 2019; insightface's arcface_torch `iresnet50`/`iresnet100`): the
 * identity embedding the paper's CSIM uses. 112 x 112 aligned face crops in [-1, 1] -> 512-D. Its
 * weights cannot be downloaded here: the user supplies a safetensors file in arcface_torch's
 * state-dict names and layouts (conv weights [out, in, kh, kw]; BatchNorm weight, bias,
 * running_mean, running_var; PReLU weight; fc weight [512, 25088] over PyTorch's NCHW flatten).
 * Without one, CSIM-faceapi stands in (identity.ts). arcface.test.ts checks shapes with random
 * weights and the loader's checks.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { featuresOf } from './features.js';
import type { RgbImage } from '../media/image.js';

export const ARCFACE_INPUT = 112;
export const ARCFACE_FEATURES = 512;
const EPS = 1e-5;

/** Stage depths: iresnet50 and iresnet100. */
export const IRESNET_LAYERS = { 50: [3, 4, 14, 3], 100: [3, 13, 30, 3] } as const;

type Shapes = Map<string, number[]>;

/** Every tensor of the network with its (PyTorch) shape. */
export function iresnetShapes(depth: 50 | 100): Shapes {
  const s: Shapes = new Map();
  const bn = (p: string, c: number) =>
    ['weight', 'bias', 'running_mean', 'running_var'].forEach((k) => s.set(`${p}.${k}`, [c]));
  s.set('conv1.weight', [64, 3, 3, 3]);
  bn('bn1', 64);
  s.set('prelu.weight', [64]);
  let inplanes = 64;
  IRESNET_LAYERS[depth].forEach((blocks, li) => {
    const planes = 64 << li;
    for (let b = 0; b < blocks; b++) {
      const p = `layer${li + 1}.${b}`;
      bn(`${p}.bn1`, inplanes);
      s.set(`${p}.conv1.weight`, [planes, inplanes, 3, 3]);
      bn(`${p}.bn2`, planes);
      s.set(`${p}.prelu.weight`, [planes]);
      s.set(`${p}.conv2.weight`, [planes, planes, 3, 3]);
      bn(`${p}.bn3`, planes);
      if (b === 0) {
        s.set(`${p}.downsample.0.weight`, [planes, inplanes, 1, 1]);
        bn(`${p}.downsample.1`, planes);
      }
      inplanes = planes;
    }
  });
  bn('bn2', 512);
  s.set('fc.weight', [ARCFACE_FEATURES, 512 * 49]);
  s.set('fc.bias', [ARCFACE_FEATURES]);
  bn('features', ARCFACE_FEATURES);
  return s;
}

export class ArcFace {
  private constructor(
    private readonly w: Map<string, tf.Tensor>,
    readonly depth: 50 | 100,
  ) {}

  /** Random weights with unit BatchNorm (for shape tests). */
  static random(depth: 50 | 100 = 50, seed = 0): ArcFace {
    const rng = new Rng(seed);
    const raw = new Map<string, Float32Array>();
    for (const [name, shape] of iresnetShapes(depth)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const fan = shape.length > 1 ? n / shape[0]! : 1;
      raw.set(
        name,
        name.endsWith('running_var') || (name.endsWith('.weight') && shape.length === 1)
          ? new Float32Array(n).fill(name.includes('prelu') ? 0.25 : 1)
          : shape.length === 1
            ? new Float32Array(n)
            : rng.normalArray(n, Math.sqrt(2 / fan)),
      );
    }
    return new ArcFace(ArcFace.convert(raw, depth), depth);
  }

  /** arcface_torch's weights from a safetensors file; the depth is read from the layer names. */
  static load(path: string): ArcFace {
    let tensors: ReturnType<typeof decodeSafetensors>['tensors'];
    try {
      tensors = decodeSafetensors(readFileSync(path)).tensors;
    } catch (e) {
      throw new InputError(`Cannot read ArcFace weights "${path}": ${(e as Error).message}`);
    }
    const depth: 50 | 100 = tensors.has('layer2.4.conv1.weight') ? 100 : 50;
    const raw = new Map<string, Float32Array>();
    for (const [name, shape] of iresnetShapes(depth)) {
      const t = tensors.get(name);
      if (!t)
        throw new InputError(
          `ArcFace weights "${path}": no tensor "${name}" (arcface_torch's iresnet${depth} names expected)`,
        );
      if (t.dtype !== 'F32' || t.shape.join() !== shape.join())
        throw new InputError(
          `ArcFace weights "${path}": "${name}" is ${t.dtype} [${t.shape}], expected F32 [${shape}]`,
        );
      raw.set(name, t.data as Float32Array);
    }
    return new ArcFace(ArcFace.convert(raw, depth), depth);
  }

  /** PyTorch layouts -> ours: convs OIHW -> HWIO; fc's columns from NCHW to NHWC flatten order. */
  private static convert(raw: Map<string, Float32Array>, depth: 50 | 100): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, shape] of iresnetShapes(depth)) {
      const v = raw.get(name)!;
      if (shape.length === 4) {
        const [o, i, kh, kw] = shape as [number, number, number, number];
        const hwio = new Float32Array(v.length);
        for (let a = 0; a < o; a++)
          for (let b = 0; b < i; b++)
            for (let y = 0; y < kh; y++)
              for (let x = 0; x < kw; x++)
                hwio[((y * kw + x) * i + b) * o + a] = v[((a * i + b) * kh + y) * kw + x]!;
        out.set(name, tf.tensor4d(hwio, [kh, kw, i, o]));
      } else if (name === 'fc.weight') {
        // ours[(h*7 + w)*512 + c, f] = torch[f, c*49 + h*7 + w]
        const m = new Float32Array(v.length);
        for (let f = 0; f < ARCFACE_FEATURES; f++)
          for (let c = 0; c < 512; c++)
            for (let p = 0; p < 49; p++) m[(p * 512 + c) * ARCFACE_FEATURES + f] = v[f * 25088 + c * 49 + p]!;
        out.set(name, tf.tensor2d(m, [25088, ARCFACE_FEATURES]));
      } else out.set(name, tf.tensor1d(v));
    }
    return out;
  }

  private bn(x: tf.Tensor, p: string): tf.Tensor {
    const g = (k: string) => this.w.get(`${p}.${k}`) as tf.Tensor1D;
    return tf.batchNorm(x, g('running_mean'), g('running_var'), g('bias'), g('weight'), EPS);
  }

  private conv(x: tf.Tensor4D, name: string, stride: number, pad: number): tf.Tensor4D {
    const w = this.w.get(name) as tf.Tensor4D;
    // PyTorch's symmetric padding (TF's 'same' would pad only bottom/right at stride 2)
    const p: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ];
    return tf.conv2d(x, w, stride, pad ? p : 'valid');
  }

  /** 512-D embeddings of x [B, 112, 112, 3] in [-1, 1]. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    if (x.shape[1] !== ARCFACE_INPUT || x.shape[2] !== ARCFACE_INPUT || x.shape[3] !== 3)
      throw new RangeError(`ArcFace takes [B, 112, 112, 3], got [${x.shape}]`);
    return tf.tidy(() => {
      const prelu = (h: tf.Tensor, name: string) => tf.prelu(h, this.w.get(name)!);
      let h = prelu(this.bn(this.conv(x, 'conv1.weight', 1, 1), 'bn1'), 'prelu.weight') as tf.Tensor4D;
      IRESNET_LAYERS[this.depth].forEach((blocks, li) => {
        for (let b = 0; b < blocks; b++) {
          const p = `layer${li + 1}.${b}`;
          const stride = b === 0 ? 2 : 1;
          let out = this.conv(this.bn(h, `${p}.bn1`) as tf.Tensor4D, `${p}.conv1.weight`, 1, 1);
          out = prelu(this.bn(out, `${p}.bn2`), `${p}.prelu.weight`) as tf.Tensor4D;
          out = this.bn(this.conv(out, `${p}.conv2.weight`, stride, 1), `${p}.bn3`) as tf.Tensor4D;
          const id =
            b === 0 ? this.bn(this.conv(h, `${p}.downsample.0.weight`, stride, 0), `${p}.downsample.1`) : h;
          h = tf.add(out, id);
        }
      });
      const flat = tf.reshape(this.bn(h, 'bn2'), [x.shape[0], 25088]) as tf.Tensor2D;
      const fc = tf.add(tf.matMul(flat, this.w.get('fc.weight') as tf.Tensor2D), this.w.get('fc.bias')!);
      return this.bn(fc, 'features') as tf.Tensor2D;
    });
  }

  /** Embeddings of face crops (resized to 112, bilinear), in batches. */
  embed(images: RgbImage[], batch = 16): Float32Array[] {
    return featuresOf(images, (x) => this.forward(x), ARCFACE_FEATURES, ARCFACE_INPUT, batch);
  }

  dispose(): void {
    for (const t of this.w.values()) t.dispose();
  }
}
