/**
 * Functional layers over parameter trees (NHWC). Each takes its own subtree of parameters; shapes are
 * in comments. An optional `Flops` counter adds each layer's multiply-adds x 2 of the forward pass,
 * so benchmarks report achieved GFLOP/s from the real architecture rather than a guess.
 */
import { Rng } from '../engine/rng.js';
import { ATTENTION_KERNEL, CONV_BIAS_KERNEL, IN_KERNEL, IN_GRAD_KERNEL, hasFused } from '../engine/fused.js';
import { tf, type Tensor } from '../engine/tf.js';
import { heConv, leaf, zeros, ones, type ParamTree } from './params.js';

export interface Flops {
  total: number;
}

export type Tensor4 = tf.Tensor4D;

export function initConv(rng: Rng, k: number, ci: number, co: number, bias = true): ParamTree {
  return bias ? { weight: heConv(rng, k, ci, co), bias: zeros([co]) } : { weight: heConv(rng, k, ci, co) };
}

/** x [B,H,W,Ci] -> [B,H',W',Co] with weight [k,k,Ci,Co] (+ bias [Co]). */
export function conv2d(
  p: ParamTree,
  x: Tensor4,
  opts: { stride?: number; pad?: 'same' | 'valid'; flops?: Flops | undefined; fused?: boolean } = {},
): Tensor4 {
  const w = leaf(p, 'weight') as tf.Tensor4D;
  const stride = opts.stride ?? 1;
  const pad = opts.pad ?? 'same';
  const fused = opts.fused ?? hasFused(CONV_BIAS_KERNEL);
  let y =
    p['bias'] && fused
      ? convBias(x, w, leaf(p, 'bias') as tf.Tensor1D, stride, pad)
      : tf.conv2d(x, w, stride, pad);
  if (opts.flops) {
    const [k1, k2, ci, co] = w.shape;
    opts.flops.total += 2 * y.shape[0] * y.shape[1] * y.shape[2] * k1 * k2 * ci * co;
  }
  if (p['bias'] && !fused) y = tf.add(y, leaf(p, 'bias'));
  return y;
}

/**
 * conv2d + bias as one kernel (native): the bias rides in the convolution (oneDNN's primitive or the
 * Winograd output transform) instead of an Add over the output. The unfused composition above is its
 * reference twin (`fused: false`).
 */
function convBias(
  x: Tensor4,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  stride: number,
  pad: 'same' | 'valid',
): Tensor4 {
  const attrs = { strides: stride, pad, dataFormat: 'NHWC', dilations: 1 };
  return tf.engine().runKernel(CONV_BIAS_KERNEL, { x, filter: w, bias: b }, attrs) as Tensor4;
}

// The gradient as one closure per input, so backprop runs only the passes it needs: no input
// gradient for data (an embedder's frames, a discriminator's detached fakes) and no filter gradient
// for a network held fixed in this step (the discriminator in the E/G step).
tf.registerGradient({
  kernelName: CONV_BIAS_KERNEL,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [Tensor4, tf.Tensor4D];
    const g = dy as Tensor4;
    return {
      x: () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter }, { ...attrs, inputShape: x.shape }),
      filter: () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, { ...attrs, filterShape: filter.shape }),
      bias: () => tf.sum(g, [0, 1, 2]),
    } as Record<string, () => Tensor>;
  },
});

export function initInstanceNorm(c: number): ParamTree {
  return { gamma: ones([c]), beta: zeros([c]) };
}

/**
 * Per-sample, per-channel normalisation over H and W; gamma/beta [C] or [B,1,1,C] (AdaIN).
 * On a backend with the fused kernel (native) it is one kernel each way; this composition is its
 * reference twin (`fused = false`).
 */
export function instanceNorm(
  x: Tensor4,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
  fused = hasFused(IN_KERNEL),
): Tensor4 {
  if (fused) return fusedInstanceNorm(x, gamma, beta, eps);
  const { mean, variance } = tf.moments(x, [1, 2], true);
  const xn = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xn, gamma), beta) as Tensor4;
}

function checkNormParams(x: Tensor4, gamma: Tensor, beta: Tensor): void {
  const c = x.shape[3];
  const gb = gamma.size / c;
  if (gamma.size !== beta.size || (gb !== 1 && gb !== x.shape[0]) || gamma.shape[gamma.rank - 1] !== c)
    throw new RangeError(`instanceNorm: gamma ${gamma.shape} / beta ${beta.shape} do not fit x ${x.shape}`);
}

/**
 * relu(instanceNorm(x)): with `inference` (no gradient will be taken) and the fused kernel, in one
 * pass over x's output instead of two (AdaIN then ReLU, every residual block of G).
 */
export function instanceNormRelu(
  x: Tensor4,
  gamma: Tensor,
  beta: Tensor,
  inference = false,
  eps = 1e-5,
): Tensor4 {
  if (!inference || !hasFused(IN_KERNEL)) return tf.relu(instanceNorm(x, gamma, beta, eps));
  checkNormParams(x, gamma, beta);
  const [y, mean, rstd] = tf
    .engine()
    .runKernel(IN_KERNEL, { x, gamma, beta }, { eps, relu: true }) as Tensor[];
  tf.dispose([mean!, rstd!]);
  return y as Tensor4;
}

function fusedInstanceNorm(x: Tensor4, gamma: Tensor, beta: Tensor, eps: number): Tensor4 {
  checkNormParams(x, gamma, beta);
  const gb = gamma.size / x.shape[3];
  const f = tf.customGrad((xi, g, b, save) => {
    const [y, mean, rstd] = tf.engine().runKernel(
      IN_KERNEL,
      { x: xi as Tensor, gamma: g as Tensor, beta: b as Tensor },
      {
        eps,
      },
    ) as Tensor[];
    (save as tf.GradSaveFunc)([xi as Tensor, g as Tensor, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy, saved) => {
        const [xs, gs, m, r] = saved as [Tensor, Tensor, Tensor, Tensor];
        const [dx, dg, db] = tf
          .engine()
          .runKernel(
            IN_GRAD_KERNEL,
            { dy: dy as Tensor, x: xs, gamma: gs, mean: m, rstd: r },
            {},
          ) as Tensor[];
        // per-sample [B, C] sums; a shared gamma/beta gets the batch total
        const shape = (t: Tensor) =>
          gb === 1 ? tf.reshape(tf.sum(t, 0), gs.shape) : tf.reshape(t, gs.shape);
        return [dx!, shape(dg!), shape(db!)];
      },
    };
  });
  return f(x, gamma, beta) as Tensor4;
}

// Three ops whose TF.js gradients read their inputs only for their shapes, yet keep them (and so
// their memory) on the tape until the backward pass reaches them: Add (both operands), AvgPool and
// ResizeNearestNeighbor (the input). In a residual block those are full-size convolution outputs
// nothing else needs. These versions keep the shape in the closure and nothing on the tape (issue
// 25: training memory). Each is tested against TF.js's op, values and gradients (layers.test.ts).

/** a + b for tensors of one shape; keeps neither for the backward pass. */
export function addSame(a: Tensor4, b: Tensor4): Tensor4 {
  if (!tf.util.arraysEqual(a.shape, b.shape))
    throw new RangeError(`addSame: shapes [${a.shape}] and [${b.shape}] differ`);
  return addSameOp(a, b) as Tensor4;
}
// dy for both inputs: two handles (a clone shares the buffer), as some gradient walkers free one
const addSameOp = tf.customGrad((a, b) => ({
  value: tf.add(a as Tensor, b as Tensor),
  gradFunc: (dy) => [dy as Tensor, tf.clone(dy as Tensor)],
}));

/** 2x2 average pooling, stride 2 (even sizes: the gradient spreads dy / 4 over each window). */
export function avgPool2(x: Tensor4): Tensor4 {
  if (x.shape[1] % 2 || x.shape[2] % 2) return tf.avgPool(x, 2, 2, 'valid');
  return avgPool2Op(x) as Tensor4;
}
const avgPool2Op = tf.customGrad((x) => {
  const [h, w] = [(x as Tensor4).shape[1], (x as Tensor4).shape[2]];
  return {
    value: tf.avgPool(x as Tensor4, 2, 2, 'valid'),
    // dy / 4 is exact (a power of two), so this is TF.js's AvgPoolGrad to the bit
    gradFunc: (dy) => tf.image.resizeNearestNeighbor(tf.mul(dy as Tensor4, 0.25) as Tensor4, [h, w]),
  };
});

export function upsample2(x: Tensor4, mode: 'nearest' | 'bilinear'): Tensor4 {
  const size: [number, number] = [x.shape[1] * 2, x.shape[2] * 2];
  return mode === 'nearest'
    ? (upsample2NearestOp(x) as Tensor4)
    : tf.image.resizeBilinear(x, size, false, true);
}
// The gradient of a 2x nearest upsampling sums dy over each 2x2 window: 4 x its average.
const upsample2NearestOp = tf.customGrad((x) => {
  const [h, w] = [(x as Tensor4).shape[1], (x as Tensor4).shape[2]];
  return {
    value: tf.image.resizeNearestNeighbor(x as Tensor4, [h * 2, w * 2]),
    gradFunc: (dy) => tf.mul(tf.avgPool(dy as Tensor4, 2, 2, 'valid'), 4),
  };
});

/** SAGAN self-attention (Zhang et al. 2019): x + gamma * W_o (softmax(f g^T) h). */
export function initAttention(rng: Rng, c: number, gamma0 = 0): ParamTree {
  return {
    f: initConv(rng, 1, c, Math.max(1, c >> 3)),
    g: initConv(rng, 1, c, Math.max(1, c >> 3)),
    h: initConv(rng, 1, c, Math.max(1, c >> 1)),
    o: initConv(rng, 1, Math.max(1, c >> 1), c),
    // SAGAN starts gamma at 0 so the block begins as the identity.
    gamma: gamma0 === 0 ? zeros([1]) : tf.fill([1], gamma0),
  };
}

/**
 * `inference`: no gradient will be taken, so a backend's fused attention kernel may run (the
 * native one never holds the N x N scores); otherwise, or without one, the composition below.
 */
export function attention(p: ParamTree, x: Tensor4, flops?: Flops, inference = false): Tensor4 {
  const [b, h, w] = x.shape;
  const n = h * w;
  const f = conv2d(p['f'] as ParamTree, x, { flops });
  const g = conv2d(p['g'] as ParamTree, x, { flops });
  const v = conv2d(p['h'] as ParamTree, x, { flops });
  const ck = f.shape[3];
  const cv = v.shape[3];
  const q = tf.reshape(f, [b, n, ck]);
  const k = tf.reshape(g, [b, n, ck]);
  const vs = tf.reshape(v, [b, n, cv]);
  const mixed =
    inference && hasFused(ATTENTION_KERNEL)
      ? (tf.engine().runKernel(ATTENTION_KERNEL, { q, k, v: vs }) as Tensor)
      : tf.matMul(tf.softmax(tf.matMul(q, k, false, true)), vs); // scores [B,N,N]
  const o = tf.reshape(mixed, [b, h, w, cv]) as Tensor4; // [B,H,W,C/2]
  if (flops) flops.total += 2 * b * n * n * (ck + cv);
  return tf.add(x, tf.mul(leaf(p, 'gamma'), conv2d(p['o'] as ParamTree, o, { flops }))) as Tensor4;
}
