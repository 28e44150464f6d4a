/**
 * What the native backend's kernel families share: the cpu backend's storage, op codes of the
 * addon's elementwise and reduction kernels, and the geometry arrays its convolutions and windowed
 * ops read.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { Addon } from './addon.js';

export const { backend_util, util } = tf;

export const UNARY: Record<string, number> = {
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
export const BINARY: Record<string, number> = {
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
export const REDUCE: Record<string, number> = { Sum: 0, Mean: 1, Max: 2, Min: 3, Prod: 4 };

/** The cpu backend, whose storage (typed arrays by data id) the native kernels read and write. */
export type Cpu = MathBackendCPU;
/**
 * A float32 tensor's values. The cpu backend's Cast relabels bool/int32 storage as float32 without
 * converting it, so the storage is not always a Float32Array: convert those (rare, small masks).
 */
export const vals = (be: Cpu, t: TensorInfo): Float32Array => {
  const v = be.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
};
export const isF32 = (...ts: TensorInfo[]) => ts.every((t) => t.dtype === 'float32');

export function convParams(ci: ReturnType<typeof backend_util.computeConv2DInfo>): Int32Array {
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
export function windowParams(
  ci: ReturnType<typeof backend_util.computeConv2DInfo>,
  dilation: boolean,
): Int32Array {
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

export function nhwc(dataFormat: 'NHWC' | 'NCHW'): 'channelsLast' {
  const f = backend_util.convertConv2DDataFormat(dataFormat);
  if (f !== 'channelsLast') throw new Error('native backend: convolutions support NHWC only');
  return f;
}

/** What each kernel family gets: the addon, and the cpu backend's kernel of a name for the cases it leaves. */
export interface KernelContext {
  A: Addon;
  fallback: (name: string, args: Parameters<KernelFunc>[0]) => TensorInfo | TensorInfo[];
}
