/**
 * The native backend's kernel table: each TF.js kernel the addon implements, as a KernelFunc over
 * the cpu backend's storage, with the cpu kernel as the fallback for cases the addon does not cover.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type {
  BatchMatMulAttrs,
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeAttrs,
  KernelFunc,
  AvgPoolAttrs as PoolAttrs,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import {
  ADAM_KERNEL,
  CONV_BIAS_KERNEL,
  IN_GRAD_KERNEL,
  IN_KERNEL,
  SN_DIV_GRAD_KERNEL,
  SN_DIV_KERNEL,
  SN_POWER_KERNEL,
} from '../fused.js';
import { tf } from '../tf.js';
import type { Addon } from './addon.js';
import { alloc } from './pool.js';

const { backend_util, util } = tf;

const UNARY: Record<string, number> = {
  Relu: 0,
  Tanh: 1,
  Sigmoid: 2,
  Exp: 3,
  Log: 4,
  Sqrt: 5,
  Rsqrt: 6,
  Square: 7,
  Neg: 8,
  Abs: 9,
  Step: 10,
  Sign: 11,
  Reciprocal: 12,
  Elu: 13,
  LeakyRelu: 14,
  Softplus: 15,
  Log1p: 16,
  Expm1: 17,
  Cos: 18,
  Sin: 19,
  Floor: 20,
  Ceil: 21,
  Round: 22,
  Atan: 23,
  Erf: 24,
  ClipByValue: 25,
};
const BINARY: Record<string, number> = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  Pow: 7,
  Atan2: 8,
};
const REDUCE: Record<string, number> = { Sum: 0, Mean: 1, Max: 2, Min: 3, Prod: 4 };

/** Kernels that only move or reshape data: their JavaScript versions are fine, no log. */
type Cpu = MathBackendCPU;
/**
 * A float32 tensor's values. The cpu backend's Cast relabels bool/int32 storage as float32 without
 * converting it, so the storage is not always a Float32Array: convert those (rare, small masks).
 */
const vals = (be: Cpu, t: TensorInfo): Float32Array => {
  const v = be.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
};
const isF32 = (...ts: TensorInfo[]) => ts.every((t) => t.dtype === 'float32');

function convParams(ci: ReturnType<typeof backend_util.computeConv2DInfo>): Int32Array {
  // oneDNN wants the bottom/right padding that makes the output size exact (TF.js may report more).
  const p = ci.padInfo;
  const bottom =
    (ci.outHeight - 1) * ci.strideHeight +
    (ci.filterHeight - 1) * ci.dilationHeight +
    1 -
    ci.inHeight -
    p.top;
  const right =
    (ci.outWidth - 1) * ci.strideWidth + (ci.filterWidth - 1) * ci.dilationWidth + 1 - ci.inWidth - p.left;
  return new Int32Array([
    ci.batchSize,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.outChannels,
    ci.filterHeight,
    ci.filterWidth,
    ci.strideHeight,
    ci.strideWidth,
    ci.dilationHeight,
    ci.dilationWidth,
    p.top,
    p.left,
    bottom,
    right,
    ci.outHeight,
    ci.outWidth,
  ]);
}

/**
 * A windowed op's geometry as native/movement.cc (pooling) and native/inference.cc (depthwise
 * convolution, with the dilations) read it: [N,H,W,C,KH,KW,sh,sw,(dh,dw,)pt,pl,OH,OW].
 */
function windowParams(ci: ReturnType<typeof backend_util.computeConv2DInfo>, dilation: boolean): Int32Array {
  return new Int32Array([
    ci.batchSize,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.filterHeight,
    ci.filterWidth,
    ci.strideHeight,
    ci.strideWidth,
    ...(dilation ? [ci.dilationHeight, ci.dilationWidth] : []),
    ci.padInfo.top,
    ci.padInfo.left,
    ci.outHeight,
    ci.outWidth,
  ]);
}

function nhwc(dataFormat: 'NHWC' | 'NCHW'): 'channelsLast' {
  const f = backend_util.convertConv2DDataFormat(dataFormat);
  if (f !== 'channelsLast') throw new Error('native backend: convolutions support NHWC only');
  return f;
}

export function kernels(A: Addon, cpu: (name: string) => KernelFunc): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
  const fallback = (name: string, args: Parameters<KernelFunc>[0]) => cpu(name)(args);

  const convInfo = (
    xShape: readonly number[],
    filterShape: readonly number[],
    a: Conv2DAttrs | Conv2DBackpropFilterAttrs | Conv2DBackpropInputAttrs,
    dilations: Conv2DAttrs['dilations'],
  ) =>
    backend_util.computeConv2DInfo(
      xShape as never,
      filterShape as never,
      a.strides,
      dilations,
      a.pad,
      a.dimRoundingMode,
      false,
      nhwc(a.dataFormat),
    );
  // Conv2D, and conv + bias in one oneDNN primitive (src/nn/layers.ts's conv2d).
  const forward =
    (withBias: boolean): KernelFunc =>
    ({ inputs, backend, attrs }) => {
      const be = backend as Cpu;
      const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
      const a = attrs as unknown as Conv2DAttrs;
      const ci = convInfo(x.shape, filter.shape, a, a.dilations);
      const y = alloc(util.sizeFromShape(ci.outShape));
      A.conv(0, vals(be, x), vals(be, filter), y, convParams(ci), withBias ? vals(be, bias!) : undefined);
      return be.makeTensorInfo(ci.outShape, 'float32', y);
    };
  out['Conv2D'] = forward(false);
  out[CONV_BIAS_KERNEL] = forward(true);
  out['Conv2DBackpropFilter'] = ({ inputs, backend, attrs }) => {
    const be = backend as Cpu;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    const ci = convInfo(x.shape, a.filterShape, a, 1);
    const dw = alloc(util.sizeFromShape(a.filterShape));
    A.conv(2, vals(be, x), vals(be, dy), dw, convParams(ci));
    return be.makeTensorInfo([...a.filterShape], 'float32', dw);
  };
  out['Conv2DBackpropInput'] = ({ inputs, backend, attrs }) => {
    const be = backend as Cpu;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const ci = convInfo(a.inputShape, filter.shape, a, 1);
    const dx = alloc(util.sizeFromShape(a.inputShape));
    A.conv(1, vals(be, dy), vals(be, filter), dx, convParams(ci));
    return be.makeTensorInfo([...a.inputShape], 'float32', dx);
  };
  // Depthwise convolution (MobileNets: face-api's detector and landmark net), channel multiplier 1.
  out['DepthwiseConv2dNative'] = (args) => {
    const be = args.backend as Cpu;
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const a = args.attrs as unknown as DepthwiseConv2dNativeAttrs;
    if (!isF32(x, filter) || filter.shape[3] !== 1) return fallback('DepthwiseConv2dNative', args);
    const ci = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode,
      true,
      nhwc(a.dataFormat),
    );
    const y = alloc(util.sizeFromShape(ci.outShape));
    A.depthwiseConv(vals(be, x), vals(be, filter), y, windowParams(ci, true));
    return be.makeTensorInfo(ci.outShape, 'float32', y);
  };
  // Inference batch norm (tf.batchNorm), parameters over the last axis or scalars.
  out['FusedBatchNorm'] = (args) => {
    const be = args.backend as Cpu;
    const { x, mean, variance, offset, scale } = args.inputs as Record<
      'x' | 'mean' | 'variance' | 'offset' | 'scale',
      TensorInfo | undefined
    >;
    const c = x!.shape[x!.shape.length - 1] ?? 1;
    const params = [mean, variance, offset, scale].filter((t): t is TensorInfo => t !== undefined);
    const fits = (t: TensorInfo) => {
      const n = util.sizeFromShape(t.shape);
      return (n === 1 || n === c) && t.shape.slice(0, -1).every((d) => d === 1);
    };
    if (!isF32(x!, ...params) || !params.every(fits)) return fallback('FusedBatchNorm', args);
    const y = alloc(util.sizeFromShape(x!.shape));
    const eps = (args.attrs as { varianceEpsilon: number }).varianceEpsilon;
    const v = (t: TensorInfo | undefined) => (t ? vals(be, t) : null);
    A.batchNorm(vals(be, x!), v(mean)!, v(variance)!, v(offset), v(scale), y, eps);
    return be.makeTensorInfo([...x!.shape], 'float32', y);
  };
  out['BatchMatMul'] = (args) => {
    const be = args.backend as Cpu;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    if (!isF32(a, b)) return fallback('BatchMatMul', args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const outer = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const bA = util.sizeFromShape(a.shape.slice(0, -2));
    const bB = util.sizeFromShape(b.shape.slice(0, -2));
    const bC = util.sizeFromShape(outer);
    // oneDNN broadcasts a batch of 1 only; other broadcasts take the JS path.
    if (!((bA === bC || bA === 1) && (bB === bC || bB === 1))) return fallback('BatchMatMul', args);
    const y = alloc(bC * m * n);
    A.matmul(vals(be, a), vals(be, b), y, bA, bB, m, k, n, transposeA, transposeB);
    return be.makeTensorInfo([...outer, m, n], 'float32', y);
  };
  for (const [name, op] of Object.entries(UNARY)) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const x = args.inputs['x']!;
      if (!isF32(x)) return fallback(name, args);
      const at = (args.attrs ?? {}) as { alpha?: number; clipValueMin?: number; clipValueMax?: number };
      const [alpha, beta] =
        name === 'ClipByValue' ? [at.clipValueMin!, at.clipValueMax!] : [at.alpha ?? 0, 0];
      const y = alloc(util.sizeFromShape(x.shape));
      A.unary(op, vals(be, x), y, alpha, beta);
      return be.makeTensorInfo([...x.shape], 'float32', y);
    };
  }
  for (const [name, op] of Object.entries(BINARY)) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const a = args.inputs['a']!;
      const b = args.inputs['b']!;
      if (!isF32(a, b)) return fallback(name, args);
      const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const y = alloc(util.sizeFromShape(shape));
      A.binary(op, vals(be, a), [...a.shape], vals(be, b), [...b.shape], y, shape);
      return be.makeTensorInfo(shape, 'float32', y);
    };
  }
  out['AddN'] = (args) => {
    const be = args.backend as Cpu;
    const xs = args.inputs as unknown as TensorInfo[];
    if (!isF32(...xs)) return fallback('AddN', args);
    const y = alloc(util.sizeFromShape(xs[0]!.shape));
    A.addN(y, ...xs.map((t) => vals(be, t)));
    return be.makeTensorInfo([...xs[0]!.shape], 'float32', y);
  };
  for (const [name, op] of Object.entries(REDUCE)) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const x = args.inputs['x']!;
      // Max names its axes `reductionIndices`; the others `axis`.
      const attrs = args.attrs as unknown as {
        axis?: number | number[];
        reductionIndices?: number | number[];
        keepDims: boolean;
      };
      const axis = attrs.axis ?? attrs.reductionIndices!;
      const keepDims = attrs.keepDims;
      if (!isF32(x)) return fallback(name, args);
      const r = x.shape.length;
      const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      const outShape = x.shape.filter((_, i) => !axes.includes(i));
      const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let src = vals(be, x);
      let shape = [...x.shape];
      // Make the reduced axes one contiguous block (transpose them to the end when they are not).
      const contiguous = axes.length === 0 || axes[axes.length - 1]! - axes[0]! === axes.length - 1;
      if (!contiguous) {
        const perm = [...Array.from({ length: r }, (_, i) => i).filter((i) => !axes.includes(i)), ...axes];
        const t = alloc(src.length);
        A.transpose(src, t, shape, perm);
        src = t;
        shape = perm.map((p) => x.shape[p]!);
      }
      const first = contiguous ? (axes[0] ?? r) : r - axes.length;
      const last = first + axes.length;
      const outer = util.sizeFromShape(shape.slice(0, first));
      const size = util.sizeFromShape(shape.slice(first, last));
      const inner = util.sizeFromShape(shape.slice(last));
      const y = alloc(outer * inner);
      A.reduce(op, src, y, outer, size, inner);
      return be.makeTensorInfo(keepDims ? keptShape : outShape, 'float32', y);
    };
  }
  out['Softmax'] = (args) => {
    const be = args.backend as Cpu;
    const logits = args.inputs['logits']!;
    const { dim } = args.attrs as unknown as { dim: number };
    const r = logits.shape.length;
    if (!isF32(logits) || (dim !== -1 && dim !== r - 1)) return fallback('Softmax', args);
    const cols = logits.shape[r - 1]!;
    const y = alloc(util.sizeFromShape(logits.shape));
    A.softmax(vals(be, logits), y, y.length / cols, cols);
    return be.makeTensorInfo([...logits.shape], 'float32', y);
  };
  out['Transpose'] = (args) => {
    const be = args.backend as Cpu;
    const x = args.inputs['x']!;
    const { perm } = args.attrs as unknown as { perm: number[] };
    const raw = be.data.get(x.dataId).values;
    if (!(x.dtype === 'float32' || (x.dtype === 'int32' && raw instanceof Int32Array)))
      return fallback('Transpose', args);
    const src = x.dtype === 'float32' ? vals(be, x) : (raw as Int32Array);
    const y = x.dtype === 'float32' ? alloc(src.length) : new Int32Array(src.length);
    A.transpose(src, y, [...x.shape], perm);
    return be.makeTensorInfo(
      perm.map((p) => x.shape[p]!),
      x.dtype,
      y,
    );
  };
  /** float32 or genuine int32 storage: the 4-byte dtypes the copy kernels handle. */
  const words = (be: Cpu, t: TensorInfo): Float32Array | Int32Array | null => {
    const raw = be.data.get(t.dataId).values;
    if (t.dtype === 'float32') return vals(be, t);
    return t.dtype === 'int32' && raw instanceof Int32Array ? raw : null;
  };
  out['Concat'] = (args) => {
    const be = args.backend as Cpu;
    const xs = (args.inputs as unknown as TensorInfo[]).filter((t) => util.sizeFromShape(t.shape) > 0);
    const { axis } = args.attrs as unknown as { axis: number };
    if (xs.length === 0 || xs.some((t) => t.dtype !== xs[0]!.dtype)) return fallback('Concat', args);
    const data = xs.map((t) => words(be, t));
    if (data.some((d) => !d)) return fallback('Concat', args);
    const ax = util.parseAxisParam(axis, xs[0]!.shape)[0]!;
    const shape = [...xs[0]!.shape];
    shape[ax] = xs.reduce((s, t) => s + t.shape[ax]!, 0);
    const outer = util.sizeFromShape(shape.slice(0, ax));
    const inner = xs.map((t) => util.sizeFromShape(t.shape.slice(ax)));
    const y =
      xs[0]!.dtype === 'float32'
        ? alloc(util.sizeFromShape(shape))
        : new Int32Array(util.sizeFromShape(shape));
    A.concat(y, outer, data as (Float32Array | Int32Array)[], inner);
    return be.makeTensorInfo(shape, xs[0]!.dtype, y);
  };
  // Non-contiguous slices (e.g. the gradient of a channel concat) copy rows natively; the JavaScript
  // kernel walks them element by element. Contiguous ones stay zero-copy views (the fallback).
  out['Slice'] = (args) => {
    const be = args.backend as Cpu;
    const x = args.inputs['x']!;
    const a = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as never, a.begin, a.size) as [number[], number[]];
    const src = words(be, x);
    if (!src || x.shape.length === 0 || tf.slice_util.isSliceContinous(x.shape, begin, size))
      return fallback('Slice', args);
    const n = util.sizeFromShape(size);
    const y = x.dtype === 'float32' ? alloc(n) : new Int32Array(n);
    if (n > 0) A.slice(src, y, [...x.shape], begin, size);
    return be.makeTensorInfo(size, x.dtype, y);
  };
  out['SplitV'] = (args) => {
    const be = args.backend as Cpu;
    const x = args.inputs['x']!;
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const src = words(be, x);
    if (!src) return fallback('SplitV', args);
    const ax = util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
    const outer = util.sizeFromShape(x.shape.slice(0, ax));
    const rest = util.sizeFromShape(x.shape.slice(ax + 1));
    const parts = sizes.map((n) =>
      x.dtype === 'float32' ? alloc(outer * n * rest) : new Int32Array(outer * n * rest),
    );
    A.split(
      src,
      outer,
      parts,
      sizes.map((n) => n * rest),
    );
    return parts.map((p, i) => {
      const shape = [...x.shape];
      shape[ax] = sizes[i]!;
      return be.makeTensorInfo(shape, x.dtype, p);
    });
  };
  const poolParams = (shape: number[], a: PoolAttrs) => {
    const ci = backend_util.computePool2DInfo(
      shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    return { ci, params: windowParams(ci, false) };
  };
  // Forward pooling; the average pool's gradient is below, the max pool's stays JavaScript (arg-max).
  const pools: [string, (x: Float32Array, y: Float32Array, p: Int32Array) => void][] = [
    ['AvgPool', (x, y, p) => A.avgPool(x, y, p, false)],
    ['MaxPool', (x, y, p) => A.maxPool(x, y, p)],
  ];
  for (const [name, run] of pools) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const x = args.inputs['x']!;
      if (!isF32(x)) return fallback(name, args);
      const { ci, params } = poolParams([...x.shape], args.attrs as unknown as PoolAttrs);
      const y = alloc(util.sizeFromShape(ci.outShape));
      run(vals(be, x), y, params);
      return be.makeTensorInfo(ci.outShape, 'float32', y);
    };
  }
  out['AvgPoolGrad'] = (args) => {
    const be = args.backend as Cpu;
    const dy = args.inputs['dy']!;
    const input = args.inputs['input']!;
    const { params } = poolParams([...input.shape], args.attrs as unknown as PoolAttrs);
    const dx = alloc(util.sizeFromShape(input.shape));
    A.avgPool(vals(be, dy), dx, params, true);
    return be.makeTensorInfo([...input.shape], 'float32', dx);
  };
  for (const [name, bilinear] of [
    ['ResizeBilinear', true],
    ['ResizeNearestNeighbor', false],
  ] as const) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const images = args.inputs['images']!;
      const { size, alignCorners, halfPixelCenters } = args.attrs as unknown as {
        size: [number, number];
        alignCorners: boolean;
        halfPixelCenters: boolean;
      };
      if (!isF32(images)) return fallback(name, args);
      const [n, h, w, c] = images.shape as [number, number, number, number];
      const y = alloc(n * size[0] * size[1] * c);
      A.resize(
        bilinear,
        false,
        vals(be, images),
        y,
        new Int32Array([n, h, w, c, size[0], size[1]]),
        alignCorners,
        halfPixelCenters,
      );
      return be.makeTensorInfo([n, size[0], size[1], c], 'float32', y);
    };
    out[`${name}Grad`] = (args) => {
      const be = args.backend as Cpu;
      const images = args.inputs['images']!;
      const dy = args.inputs['dy']!;
      const { alignCorners, halfPixelCenters } = args.attrs as unknown as {
        alignCorners: boolean;
        halfPixelCenters: boolean;
      };
      const [n, h, w, c] = images.shape as [number, number, number, number];
      const dx = alloc(n * h * w * c);
      A.resize(
        bilinear,
        true,
        vals(be, dy),
        dx,
        new Int32Array([n, h, w, c, dy.shape[1]!, dy.shape[2]!]),
        alignCorners,
        halfPixelCenters,
      );
      return be.makeTensorInfo([n, h, w, c], 'float32', dx);
    };
  }
  // One fused Adam update (src/train/optim.ts uses it when the active backend has it).
  out[ADAM_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { p, m, v, g } = args.inputs as { p: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
    const { lr, beta1, beta2, eps, step } = args.attrs as unknown as {
      lr: number;
      beta1: number;
      beta2: number;
      eps: number;
      step: number;
    };
    const n = util.sizeFromShape(p.shape);
    const [po, mo, vo] = [alloc(n), alloc(n), alloc(n)];
    A.adam(vals(be, p), vals(be, m), vals(be, v), vals(be, g), po, mo, vo, lr, beta1, beta2, eps, step);
    return [po, mo, vo].map((a) => be.makeTensorInfo([...p.shape], 'float32', a));
  };
  // Fused spectral normalisation (src/models/blocks.ts uses these when the active backend has them).
  const matrix = (w: TensorInfo): [number, number] => {
    const o = w.shape[w.shape.length - 1]!;
    return [util.sizeFromShape(w.shape) / o, o];
  };
  out[SN_POWER_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { w, u } = args.inputs as { w: TensorInfo; u: TensorInfo };
    const [f, o] = matrix(w);
    const [uo, vo] = [alloc(o), alloc(f)];
    A.spectralPower(vals(be, w), vals(be, u), uo, vo, f, o, (args.attrs as { update: boolean }).update);
    return [be.makeTensorInfo([o], 'float32', uo), be.makeTensorInfo([f], 'float32', vo)];
  };
  out[SN_DIV_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { w, u, v } = args.inputs as { w: TensorInfo; u: TensorInfo; v: TensorInfo };
    const [f, o] = matrix(w);
    const y = alloc(f * o);
    const sigma = A.spectralDiv(vals(be, w), vals(be, u), vals(be, v), y, f, o);
    return [
      be.makeTensorInfo([...w.shape], 'float32', y),
      be.makeTensorInfo([], 'float32', new Float32Array([sigma])),
    ];
  };
  out[SN_DIV_GRAD_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { dy, w, u, v, sigma } = args.inputs as Record<'dy' | 'w' | 'u' | 'v' | 'sigma', TensorInfo>;
    const [f, o] = matrix(w);
    const dw = alloc(f * o);
    A.spectralDivGrad(vals(be, dy), vals(be, w), vals(be, u), vals(be, v), dw, f, o, vals(be, sigma)[0]!);
    return be.makeTensorInfo([...w.shape], 'float32', dw);
  };
  // Fused instance norm (src/nn/layers.ts uses it when the active backend has it).
  const nhwcDims = (x: TensorInfo, gamma: TensorInfo) => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    return { b, hw: h * w, c, gb: util.sizeFromShape(gamma.shape) / c };
  };
  out[IN_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { x, gamma, beta } = args.inputs as Record<'x' | 'gamma' | 'beta', TensorInfo>;
    const { b, hw, c, gb } = nhwcDims(x, gamma);
    const [y, mean, rstd] = [alloc(b * hw * c), alloc(b * c), alloc(b * c)];
    const eps = (args.attrs as { eps: number }).eps;
    A.instanceNorm(vals(be, x), vals(be, gamma), vals(be, beta), y, mean, rstd, b, hw, c, gb, eps);
    return [
      be.makeTensorInfo([...x.shape], 'float32', y),
      be.makeTensorInfo([b, c], 'float32', mean),
      be.makeTensorInfo([b, c], 'float32', rstd),
    ];
  };
  out[IN_GRAD_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { dy, x, gamma, mean, rstd } = args.inputs as Record<
      'dy' | 'x' | 'gamma' | 'mean' | 'rstd',
      TensorInfo
    >;
    const { b, hw, c, gb } = nhwcDims(x, gamma);
    const [dx, dg, db] = [alloc(b * hw * c), alloc(b * c), alloc(b * c)];
    A.instanceNormGrad(
      vals(be, dy),
      vals(be, x),
      vals(be, gamma),
      vals(be, mean),
      vals(be, rstd),
      dx,
      dg,
      db,
      b,
      hw,
      c,
      gb,
    );
    return [
      be.makeTensorInfo([...x.shape], 'float32', dx),
      be.makeTensorInfo([b, c], 'float32', dg),
      be.makeTensorInfo([b, c], 'float32', db),
    ];
  };
  return out;
}
