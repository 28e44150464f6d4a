/** The native backend's kernels, family by family (kernels.ts puts the table together): ops that move data: transpose, concat, strided slices, splits. */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { backend_util, type Cpu, type KernelContext, util, vals } from './kernel_util.js';
import { alloc } from './pool.js';

export function movementKernels({ A, fallback }: KernelContext): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
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
  // Repeats along the first axis only (psi' tiled over a batch of frames: 1.6M values at 128 px,
  // 6 ms element by element in the JavaScript kernel): whole copies of the input, one after another.
  out['Tile'] = (args) => {
    const be = args.backend as Cpu;
    const x = args.inputs['x']!;
    const { reps } = args.attrs as unknown as { reps: number[] };
    const src = words(be, x);
    if (!src || reps.length !== x.shape.length || reps.slice(1).some((r) => r !== 1) || !(reps[0]! >= 1))
      return fallback('Tile', args);
    const n = src.length;
    const y = x.dtype === 'float32' ? alloc(n * reps[0]!) : new Int32Array(n * reps[0]!);
    for (let i = 0; i < reps[0]!; i++) y.set(src, i * n);
    return be.makeTensorInfo(
      x.shape.map((d, i) => d * reps[i]!),
      x.dtype,
      y,
    );
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
  return out;
}
