/** The native backend's kernels, family by family (kernels.ts puts the table together): matrix products, elementwise and reduction ops, softmax. */
import type { BatchMatMulAttrs, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  backend_util,
  BINARY,
  type Cpu,
  isF32,
  type KernelContext,
  REDUCE,
  UNARY,
  util,
  vals,
} from './kernel_util.js';
import { alloc } from './pool.js';

export function mathKernels({ A, fallback }: KernelContext): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
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
  return out;
}
