/** The native backend's kernels, family by family (kernels.ts puts the table together): the fused kernels of engine/fused.ts: Adam, spectral normalisation, instance norm, attention for inference. */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  ADAM_KERNEL,
  ATTENTION_KERNEL,
  IN_GRAD_KERNEL,
  IN_KERNEL,
  SN_DIV_GRAD_KERNEL,
  SN_DIV_KERNEL,
  SN_POWER_KERNEL,
} from '../fused.js';
import { type Cpu, type KernelContext, util, vals } from './kernel_util.js';
import { alloc } from './pool.js';

export function fusedKernels({ A }: KernelContext): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
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
    const { eps, relu } = args.attrs as { eps: number; relu?: boolean };
    A.instanceNorm(
      vals(be, x),
      vals(be, gamma),
      vals(be, beta),
      y,
      mean,
      rstd,
      b,
      hw,
      c,
      gb,
      eps,
      relu === true,
    );
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
  // Attention for inference, the score matrix a block of query rows at a time (native/onednn.cc).
  out[ATTENTION_KERNEL] = (args) => {
    const be = args.backend as Cpu;
    const { q, k, v } = args.inputs as Record<'q' | 'k' | 'v', TensorInfo>;
    const [b, n, ck] = q.shape as [number, number, number];
    const cv = v.shape[2]!;
    const y = alloc(b * n * cv);
    A.attention(vals(be, q), vals(be, k), vals(be, v), y, b, n, ck, cv);
    return be.makeTensorInfo([b, n, cv], 'float32', y);
  };
  return out;
}
