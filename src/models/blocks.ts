/**
 * The talking-head networks' building blocks (Zakharov et al. 2019, sec. 3.4; docs/design.md sec. 3):
 * spectral normalisation, residual down/up/same blocks, AdaIN fed from a slice of the parameter
 * vector psi, SAGAN attention, global sum pooling. Parameters are plain trees (params.ts); spectral
 * norm is applied to a whole tree up front (`spectralNorm`), so the blocks read ordinary weights.
 */
import { SN_DIV_GRAD_KERNEL, SN_DIV_KERNEL, SN_POWER_KERNEL, hasFused } from '../engine/fused.js';
import { Rng } from '../engine/rng.js';
import { tf, type Tensor } from '../engine/tf.js';
import {
  attention,
  addSame,
  avgPool2,
  conv2d,
  initAttention,
  initConv,
  initInstanceNorm,
  instanceNorm,
  instanceNormRelu,
  upsample2,
  type Flops,
  type Tensor4,
} from '../nn/layers.js';
import { flatten, leaf, type ParamTree, subtree, unflatten } from '../nn/params.js';

// ---------------------------------------------------------------- spectral normalisation

/** Weights that get spectral norm: every conv/linear kernel, i.e. leaves named "weight". */
export const isSpectral = (path: string) => path.endsWith('.weight') || path === 'weight';

/** Initial power-iteration vectors u [out] for every spectral weight (Miyato et al. 2018). */
export function initSpectral(params: ParamTree, rng: Rng): ParamTree {
  const out = new Map<string, Tensor>();
  for (const [path, w] of flatten(params)) {
    if (!isSpectral(path)) continue;
    const n = w.shape[w.shape.length - 1]!;
    const u = rng.normalArray(n);
    const norm = Math.sqrt(u.reduce((s, x) => s + x * x, 0)) || 1;
    out.set(path, tf.tensor1d(u.map((x) => x / norm)));
  }
  return unflatten(out);
}

const as2d = (w: Tensor) => tf.reshape(w, [-1, w.shape[w.shape.length - 1]!]) as tf.Tensor2D; // [fanIn, out]
const l2normalize = (x: Tensor) => tf.div(x, tf.add(tf.norm(x), 1e-12));

/**
 * One power iteration per spectral weight (no gradient): v = W u / |W u|, u' = W^T v / |W^T v|.
 * Returns the new u tree (the caller replaces and disposes the old one) and v per path.
 * With `update = false` (inference) u is kept and only v is derived from it.
 */
export function powerIteration(
  params: ParamTree,
  us: ParamTree,
  update = true,
  fused = hasFusedSpectral(),
): { u: ParamTree; v: ParamTree } {
  return tf.tidy(() => {
    const uFlat = flatten(us);
    const newU = new Map<string, Tensor>();
    const v = new Map<string, Tensor>();
    for (const [path, w] of flatten(params)) {
      if (!isSpectral(path)) continue;
      const u0 = uFlat.get(path);
      if (!u0) throw new RangeError(`No spectral-norm vector for "${path}"`);
      if (fused) {
        const [ui, vi] = tf.engine().runKernel(SN_POWER_KERNEL, { w, u: u0 }, { update }) as Tensor[];
        newU.set(path, ui!);
        v.set(path, vi!);
        continue;
      }
      const w2 = as2d(w);
      const vi = l2normalize(tf.squeeze(tf.matMul(w2, tf.reshape(u0, [-1, 1])), [1]));
      const ui = update ? l2normalize(tf.squeeze(tf.matMul(w2, tf.reshape(vi, [-1, 1]), true), [1])) : u0;
      newU.set(path, update ? ui : tf.clone(u0));
      v.set(path, vi);
    }
    return { u: unflatten(newU), v: unflatten(v) };
  }) as { u: ParamTree; v: ParamTree };
}

/**
 * The tree with every spectral weight divided by sigma = v^T W u (differentiable in W; u, v are
 * constants from the power iteration). Other leaves pass through unchanged.
 */
export function spectralNorm(
  params: ParamTree,
  us: ParamTree,
  vs: ParamTree,
  fused = hasFusedSpectral(),
): ParamTree {
  const u = flatten(us);
  const v = flatten(vs);
  const out = new Map<string, Tensor>();
  for (const [path, w] of flatten(params)) {
    if (!isSpectral(path)) {
      out.set(path, w);
      continue;
    }
    if (fused) {
      out.set(path, fusedSpectralDiv(w, u.get(path)!, v.get(path)!));
      continue;
    }
    const sigma = tf.sum(
      tf.mul(tf.squeeze(tf.matMul(as2d(w), tf.reshape(u.get(path)!, [-1, 1])), [1]), v.get(path)!),
    );
    out.set(path, tf.div(w, sigma));
  }
  return unflatten(out);
}

/**
 * Whether the active backend has the fused spectral-norm kernels (native): one kernel per weight for
 * the power iteration, W / sigma and its gradient, where the composition above takes ~25 small ops.
 * The composition stays the reference twin (src/engine/native.test.ts compares the two).
 */
export function hasFusedSpectral(): boolean {
  return hasFused(SN_POWER_KERNEL);
}

/** W / (v^T W u) with u, v constants, as one kernel forward and one backward. */
function fusedSpectralDiv(w: Tensor, u: Tensor, v: Tensor): Tensor {
  const f = tf.customGrad((x, save) => {
    const [y, sigma] = tf.engine().runKernel(SN_DIV_KERNEL, { w: x as Tensor, u, v }, {}) as Tensor[];
    (save as tf.GradSaveFunc)([x as Tensor, sigma!]);
    return {
      value: y!,
      gradFunc: (dy, saved) =>
        tf
          .engine()
          .runKernel(
            SN_DIV_GRAD_KERNEL,
            { dy: dy as Tensor, w: saved[0]!, u, v, sigma: saved[1]! },
            {},
          ) as Tensor,
    };
  });
  return f(w);
}

// ---------------------------------------------------------------- AdaIN and psi

/** A named slice of psi: an AdaIN layer needs C means and C scales. */
export interface AdainSlot {
  name: string;
  channels: number;
}

/** Offsets of each AdaIN layer's params in psi: [mean (C) | scale (C)] per layer, in order. */
export function psiLayout(slots: AdainSlot[]): { offsets: Map<string, number>; size: number } {
  const offsets = new Map<string, number>();
  let off = 0;
  for (const s of slots) {
    if (offsets.has(s.name)) throw new RangeError(`AdaIN slot "${s.name}" appears twice`);
    offsets.set(s.name, off);
    off += 2 * s.channels;
  }
  return { offsets, size: off };
}

/**
 * AdaIN (Huang & Belongie 2017) with its own psi slice: scale * IN(x) + mean, where
 * scale = 1 + psi_scale so that scales start near 1, not 0 (a known pitfall, docs/design.md sec. 5).
 */
export function adain(x: Tensor4, psi: tf.Tensor2D, offset: number): Tensor4 {
  const { scale, mean } = adainParams(x, psi, offset);
  return instanceNorm(x, scale, mean);
}

/** relu(adain(x)), in one pass at inference (nn/layers.ts instanceNormRelu). */
export function adainRelu(x: Tensor4, psi: tf.Tensor2D, offset: number, inference = false): Tensor4 {
  const { scale, mean } = adainParams(x, psi, offset);
  return instanceNormRelu(x, scale, mean, inference);
}

function adainParams(
  x: Tensor4,
  psi: tf.Tensor2D,
  offset: number,
): { scale: tf.Tensor4D; mean: tf.Tensor4D } {
  const c = x.shape[3];
  const b = x.shape[0];
  const mean = tf.reshape(tf.slice(psi, [0, offset], [b, c]), [b, 1, 1, c]) as tf.Tensor4D;
  const scale = tf.add(tf.reshape(tf.slice(psi, [0, offset + c], [b, c]), [b, 1, 1, c]), 1) as tf.Tensor4D;
  return { scale, mean };
}

// ---------------------------------------------------------------- residual blocks

export interface BlockOpts {
  flops?: Flops | undefined;
  /** no gradient will be taken (animation): kernels without one may run (nn/layers.ts attention) */
  inference?: boolean | undefined;
}

/**
 * Residual down-block (sec. 3.4): main = act -> conv k -> act -> conv k -> avgpool2 (the first block
 * skips the leading activation); skip = conv1x1 -> avgpool2. Optional instance norm before each act.
 */
export function initResDown(
  rng: Rng,
  ci: number,
  co: number,
  opts: { k?: number; norm?: boolean } = {},
): ParamTree {
  const k = opts.k ?? 3;
  const p: Record<string, ParamTree> = {
    conv1: initConv(rng, k, ci, co),
    conv2: initConv(rng, k, co, co),
    skip: initConv(rng, 1, ci, co),
  };
  if (opts.norm) {
    p['norm1'] = initInstanceNorm(ci);
    p['norm2'] = initInstanceNorm(co);
  }
  return p;
}

export function resDown(p: ParamTree, x: Tensor4, first: boolean, o: BlockOpts = {}): Tensor4 {
  const norm = (h: Tensor4, k: string) =>
    p[k] ? instanceNorm(h, leaf(subtree(p, k), 'gamma'), leaf(subtree(p, k), 'beta')) : h;
  let h = norm(x, 'norm1');
  if (!first) h = tf.relu(h);
  h = conv2d(subtree(p, 'conv1'), h, o);
  h = conv2d(subtree(p, 'conv2'), tf.relu(norm(h, 'norm2')), o);
  return addSame(avgPool2(h), avgPool2(conv2d(subtree(p, 'skip'), x, o)));
}

/** Residual block at constant resolution (the discriminator's last block): x + conv(act(conv(act(x)))). */
export function initResSame(rng: Rng, c: number): ParamTree {
  return { conv1: initConv(rng, 3, c, c), conv2: initConv(rng, 3, c, c) };
}

export function resSame(p: ParamTree, x: Tensor4, o: BlockOpts = {}): Tensor4 {
  return addSame(x, conv2d(subtree(p, 'conv2'), tf.relu(conv2d(subtree(p, 'conv1'), tf.relu(x), o)), o));
}

/**
 * AdaIN residual block of the generator (sec. 3.4): main = AdaIN -> act -> [upsample] -> conv3x3 ->
 * AdaIN -> act -> conv3x3; skip = [upsample] -> [conv1x1 when channels change]. Each AdaIN has its own
 * psi slot (reusing one AdaIN's params for another is a known pitfall).
 */
export function initResAdain(rng: Rng, ci: number, co: number): ParamTree {
  const p: Record<string, ParamTree> = { conv1: initConv(rng, 3, ci, co), conv2: initConv(rng, 3, co, co) };
  if (ci !== co) p['skip'] = initConv(rng, 1, ci, co);
  return p;
}

export function adainSlots(name: string, ci: number, co: number): AdainSlot[] {
  return [
    { name: `${name}.a1`, channels: ci },
    { name: `${name}.a2`, channels: co },
  ];
}

export function resAdain(
  p: ParamTree,
  x: Tensor4,
  psi: tf.Tensor2D,
  offsets: Map<string, number>,
  name: string,
  up: 'nearest' | 'bilinear' | null,
  o: BlockOpts = {},
): Tensor4 {
  const off = (k: string) => {
    const v = offsets.get(`${name}.${k}`);
    if (v === undefined) throw new RangeError(`No AdaIN slot "${name}.${k}"`);
    return v;
  };
  let h = adainRelu(x, psi, off('a1'), o.inference);
  if (up) h = upsample2(h, up);
  h = conv2d(subtree(p, 'conv1'), h, o);
  h = conv2d(subtree(p, 'conv2'), adainRelu(h, psi, off('a2'), o.inference), o);
  let s = up ? upsample2(x, up) : x;
  if (p['skip']) s = conv2d(subtree(p, 'skip'), s, o);
  return addSame(h, s);
}

export { attention, initAttention };

/** Global sum pooling over H, W (sec. 3.4), then ReLU: [B,H,W,C] -> [B,C]. */
export function sumPoolRelu(x: Tensor4): tf.Tensor2D {
  return tf.relu(tf.sum(x, [1, 2])) as tf.Tensor2D;
}
