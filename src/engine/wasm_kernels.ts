/**
 * Training kernels for tfjs-backend-wasm 4.22.
 *
 * Out of the box the wasm backend cannot train a conv net: it has no Conv2DBackpropFilter, no
 * UnsortedSegmentSum (the gradient of Gather), its Conv2DBackpropInput is a naive loop, its
 * BatchMatMul is fast only for one batch without transposes, its Slice copies the whole input to JS
 * and back, and its ResizeNearestNeighborGrad is wrong for batch > 1. Each kernel here is built from
 * the backend's own fast (XNNPACK) kernels or from plain copies inside the wasm heap. The cpu backend
 * is the reference each one is tested against (src/engine/wasm_kernels.test.ts).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  AvgPoolGradAttrs,
  BatchMatMulAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  ResizeNearestNeighborGradAttrs,
  SliceAttrs,
  SumAttrs,
  TensorInfo,
  UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { avgPoolGradWasm } from './pool_grad.js';
import { resizeBilinearGradWasm, resizeNearestGradWasm } from './resize_grad.js';
import { tf } from './tf.js';

const { backend_util, util, slice_util } = tf;
const BACKEND = 'wasm';

/** Kernels of the stock backend that the patches call. */
const USED = [
  'AvgPool',
  'AvgPoolGrad',
  'BatchMatMul',
  'Concat',
  'Conv2D',
  'Conv2DBackpropInput',
  'Multiply',
  'PadV2',
  'Reshape',
  'ResizeNearestNeighbor',
  'ResizeNearestNeighborGrad',
  'Slice',
  'Sum',
  'Transpose',
] as const;
type Used = (typeof USED)[number];

/** The kernels this module registers, with the reason for each (printed by `doctor`). */
export const WASM_PATCHES: Readonly<Record<string, string>> = Object.freeze({
  Conv2DBackpropFilter: 'missing: forward Conv2D over transposed tensors, dilation = stride',
  Conv2DBackpropInput: 'naive loop: forward Conv2D with flipped, io-swapped filter',
  BatchMatMul: 'fast only for batch 1: explicit transposes + per-batch XNNPACK matmul',
  UnsortedSegmentSum: 'missing (Gather gradient): accumulation in the wasm heap',
  Slice: 'copied whole input through JS: row copies inside the heap',
  AvgPoolGrad: 'wrong at padded borders: nearest upsample / k^2 when tiled, else the exact adjoint',
  Sum: 'slow over leading axes: ones-vector matmul',
  ResizeNearestNeighborGrad: 'wrong for half-pixel centres: sum pooling, else the exact adjoint',
  ResizeBilinearGrad: 'ignores half-pixel centres: exact adjoint of the forward, in the heap',
});

let originals: Record<Used, KernelFunc> | null = null;

interface Ctx {
  backend: BackendWasm;
  run(name: Used, inputs: NamedTensorInfoMap, attrs?: object): TensorInfo;
  free(...infos: TensorInfo[]): void;
  heapOffset(t: TensorInfo): number;
  scalar(v: number): TensorInfo;
}

/** The wasm heap as bytes. Read it after any allocation: growing the heap replaces the buffer. */
function heapU8(backend: BackendWasm): Uint8Array {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
}

function ctx(backend: BackendWasm): Ctx {
  const orig = originals!;
  return {
    backend,
    run: (name, inputs, attrs = {}) =>
      orig[name]({ inputs, backend, attrs: attrs as NamedAttrMap }) as TensorInfo,
    free: (...infos) => {
      for (const t of infos) backend.disposeData(t.dataId);
    },
    heapOffset: (t) => backend.dataIdMap.get(t.dataId)!.memoryOffset,
    scalar: (v) => {
      const s = backend.makeOutput([], 'float32');
      backend.typedArrayFromHeap(s)[0] = v;
      return s;
    },
  };
}

/** Copies `size` elements starting at `begin` of x into a new tensor, row by row inside the heap. */
function sliceInHeap(c: Ctx, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = c.backend.makeOutput(size, x.dtype); // may grow the heap: take views afterwards
  const n = util.sizeFromShape(size);
  if (n === 0) return out;
  const heap = heapU8(c.backend);
  const bpe = util.bytesPerElement(x.dtype);
  const xo = c.heapOffset(x);
  const oo = c.heapOffset(out);
  const rank = x.shape.length;
  const strides = util.computeStrides(x.shape);
  if (rank === 0) {
    heap.copyWithin(oo, xo, xo + bpe);
    return out;
  }
  // Copy the innermost dimension as contiguous rows.
  const row = size[rank - 1]! * bpe;
  const rows = n / size[rank - 1]!;
  const idx = new Array<number>(rank - 1).fill(0);
  let dst = oo;
  for (let r = 0; r < rows; r++) {
    let off = begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) off += (begin[d]! + idx[d]!) * strides[d]!;
    heap.copyWithin(dst, xo + off * bpe, xo + off * bpe + row);
    dst += row;
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < size[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

const slice: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs['x']!;
  const { begin, size } = attrs as unknown as SliceAttrs;
  if (x.dtype === 'string') return originals!.Slice({ inputs, backend, attrs: attrs! });
  const [b, s] = slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  return sliceInHeap(ctx(backend as BackendWasm), x, b, s);
};

// dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s + kh - pt, ow*s + kw - pl, ci] * dy[n,oh,ow,co].
// Read ci as the batch and n as the input channel: this is a forward convolution of
// x^T [Ci,H,W,N] with dy^T [OH,OW,N,Co] as the filter, stride 1 and dilation s. Its output
// [Ci, >=KH, >=KW, Co] is cut to KH x KW and transposed to [KH,KW,Ci,Co].
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const x = inputs['x']!;
  const dy = inputs['dy']!;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const xT = c.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyT = c.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const pads = [
    [0, 0],
    [padInfo.top, Math.max(0, padInfo.bottom)],
    [padInfo.left, Math.max(0, padInfo.right)],
    [0, 0],
  ];
  const full = c.run(
    'Conv2D',
    { x: xT, filter: dyT },
    { strides: [1, 1], pad: pads, dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined },
  );
  c.free(xT, dyT);
  let cut = full;
  if (full.shape[1] !== kh || full.shape[2] !== kw) {
    cut = sliceInHeap(c, full, [0, 0, 0, 0], [full.shape[0]!, kh, kw, full.shape[3]!]);
    c.free(full);
  }
  const out = c.run('Transpose', { x: cut }, { perm: [1, 2, 0, 3] });
  c.free(cut);
  return out;
};

// dx[n,h,w,ci] = sum_{kh,kw,co} dy[n,oh,ow,co] W[kh,kw,ci,co] with h = oh*s + kh - pt.
// Insert s-1 zeros between dy's rows/columns (length L = (OH-1)s + 1); then dx is the stride-1
// correlation of that with W flipped in space and with in/out channels swapped, padded by
// KH-1-pt on top and H-L+pt at the bottom (negative pads become crops).
const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const dy = inputs['dy']!;
  const filter = inputs['filter']!;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as Conv2DBackpropInputAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') return originals!.Conv2DBackpropInput({ inputs, backend, attrs: attrs! });
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, batchSize: n, outChannels: co } = info;
  const ci = filter.shape[2]!;

  // Flipped, io-swapped filter [KH,KW,Co,Ci]: transpose the channels, then reverse the KH*KW blocks.
  const swapped = c.run('Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
  const flipped = c.backend.makeOutput([kh, kw, co, ci], 'float32');
  {
    const heap = heapU8(c.backend);
    const block = co * ci * 4;
    const src = c.heapOffset(swapped);
    const dst = c.heapOffset(flipped);
    const blocks = kh * kw;
    for (let i = 0; i < blocks; i++) {
      heap.copyWithin(dst + i * block, src + (blocks - 1 - i) * block, src + (blocks - i) * block);
    }
  }
  c.free(swapped);

  const temps: TensorInfo[] = [];
  let up = dy;
  if (sh > 1 || sw > 1) {
    const r6 = c.run('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
    const p6 = c.run(
      'PadV2',
      { x: r6 },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    up = c.run('Reshape', { x: p6 }, { shape: [n, oh * sh, ow * sw, co] });
    c.free(r6, p6);
    temps.push(up);
  }
  const lh = sh * (oh - 1) + 1;
  const lw = sw * (ow - 1) + 1;
  let pt = kh - 1 - padInfo.top;
  let pl = kw - 1 - padInfo.left;
  // `up` physically holds s-1 trailing zeros past L: they already act as bottom/right padding.
  let pb = h + padInfo.top - lh - (up.shape[1]! - lh);
  let pr = w + padInfo.left - lw - (up.shape[2]! - lw);
  let src = up;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) {
    const bh = Math.max(0, -pt);
    const bw = Math.max(0, -pl);
    const eh = up.shape[1]! + Math.min(0, pb);
    const ew = up.shape[2]! + Math.min(0, pr);
    src = sliceInHeap(c, up, [0, bh, bw, 0], [n, eh - bh, ew - bw, co]);
    temps.push(src);
    pt = Math.max(0, pt);
    pl = Math.max(0, pl);
    pb = Math.max(0, pb);
    pr = Math.max(0, pr);
  }
  const out = c.run(
    'Conv2D',
    { x: src, filter: flipped },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [1, 1],
    },
  );
  c.free(flipped, ...temps);
  return out;
};

function transposeLast2(c: Ctx, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return c.run('Transpose', { x: t }, { perm });
}

/** Maps each output batch index to the (flat) batch index of an operand under broadcasting. */
function broadcastIndex(outer: number[], operand: number[]): (i: number) => number {
  const padded = [...new Array<number>(outer.length - operand.length).fill(1), ...operand];
  const strides = util.computeStrides(padded);
  return (i: number) => {
    let rest = i;
    let flat = 0;
    for (let d = 0; d < outer.length; d++) {
      const size = util.sizeFromShape(outer.slice(d + 1));
      const k = Math.floor(rest / size);
      rest -= k * size;
      if (padded[d] !== 1) flat += k * (d < outer.length - 1 ? strides[d]! : 1);
    }
    return flat;
  };
}

function matMul(
  c: Ctx,
  a0: TensorInfo,
  b0: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const temps: TensorInfo[] = [];
  const a = transposeA ? transposeLast2(c, a0) : a0;
  const b = transposeB ? transposeLast2(c, b0) : b0;
  if (transposeA) temps.push(a);
  if (transposeB) temps.push(b);
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[ra - 2]!;
  const k = a.shape[ra - 1]!;
  const nn = b.shape[rb - 1]!;
  if (b.shape[rb - 2] !== k) {
    throw new RangeError(`BatchMatMul: inner dimensions differ: [${a0.shape}] x [${b0.shape}]`);
  }
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const outer = backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const batch = util.sizeFromShape(outer);
  const batchA = util.sizeFromShape(batchShapeA);
  const batchB = util.sizeFromShape(batchShapeB);
  const mm = (x: TensorInfo, y: TensorInfo) =>
    c.run('BatchMatMul', { a: x, b: y }, { transposeA: false, transposeB: false });
  let flat: TensorInfo;
  if (batchB === 1) {
    // Fold A's batch into its rows: one [batch*M, K] x [K, N] product.
    const a2 = c.run('Reshape', { x: a }, { shape: [1, batchA * m, k] });
    const b2 = c.run('Reshape', { x: b }, { shape: [1, k, nn] });
    // batchB = 1 means the broadcast batch is A's own, so the product needs no repeat.
    flat = mm(a2, b2);
    c.free(a2, b2);
  } else {
    const a3 = c.run('Reshape', { x: a }, { shape: [batchA, m, k] });
    const b3 = c.run('Reshape', { x: b }, { shape: [batchB, k, nn] });
    const ia = broadcastIndex(outer, batchShapeA);
    const ib = broadcastIndex(outer, batchShapeB);
    const parts: TensorInfo[] = [];
    for (let i = 0; i < batch; i++) {
      const ai = sliceInHeap(c, a3, [ia(i), 0, 0], [1, m, k]);
      const bi = sliceInHeap(c, b3, [ib(i), 0, 0], [1, k, nn]);
      parts.push(mm(ai, bi));
      c.free(ai, bi);
    }
    flat =
      parts.length === 1 ? parts[0]! : c.run('Concat', parts as unknown as NamedTensorInfoMap, { axis: 0 });
    if (parts.length > 1) c.free(...parts);
    c.free(a3, b3);
  }
  const out = c.run('Reshape', { x: flat }, { shape: [...outer, m, nn] });
  c.free(flat, ...temps);
  return out;
}

const batchMatMul: KernelFunc = ({ inputs, backend, attrs }) => {
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  return matMul(ctx(backend as BackendWasm), inputs['a']!, inputs['b']!, transposeA, transposeB);
};

// out[s, ...] = sum over i with segmentIds[i] == s of x[i, ...]; ids outside [0, S) are dropped
// (TensorFlow's semantics). A direct accumulation: O(n * D), cheaper than a one-hot product.
const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const x = inputs['x']!;
  const ids = inputs['segmentIds']!;
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32') throw new TypeError(`UnsortedSegmentSum (wasm): float32 only, got ${x.dtype}`);
  const n = util.sizeFromShape(ids.shape);
  const rest = x.shape.slice(ids.shape.length);
  const d = util.sizeFromShape(rest);
  const out = c.backend.makeOutput([numSegments, ...rest], 'float32');
  const o = c.backend.typedArrayFromHeap(out) as Float32Array;
  o.fill(0);
  const xv = c.backend.typedArrayFromHeap(x) as Float32Array;
  const iv = c.backend.typedArrayFromHeap(ids);
  for (let i = 0; i < n; i++) {
    const s = iv[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * d;
    const dst = s * d;
    for (let j = 0; j < d; j++) o[dst + j]! += xv[src + j]!;
  }
  return out;
};

// For non-overlapping pools (k = stride, no padding, exact tiling) each input pixel receives
// dy / (kh*kw) from exactly one window: a nearest-neighbour upsample and one multiply.
const avgPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const dy = inputs['dy']!;
  const input = inputs['input']!;
  const { filterSize, strides, pad } = attrs as unknown as AvgPoolGradAttrs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
  );
  const tiles =
    info.filterHeight === info.strideHeight &&
    info.filterWidth === info.strideWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * info.strideHeight === info.inHeight &&
    info.outWidth * info.strideWidth === info.inWidth;
  if (!tiles) return avgPoolGradWasm({ inputs, backend, attrs: attrs! });
  const up = c.run(
    'ResizeNearestNeighbor',
    { images: dy },
    { alignCorners: false, halfPixelCenters: false, size: [info.inHeight, info.inWidth] },
  );
  const k = c.scalar(1 / (info.filterHeight * info.filterWidth));
  const out = c.run('Multiply', { a: up, b: k });
  c.free(up, k);
  return out;
};

// A sum over all leading axes (bias gradients) as ones[1, M] x X[M, C], which XNNPACK does fast.
const sum: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const x = inputs['x']!;
  const { axis, keepDims } = attrs as unknown as SumAttrs;
  const r = x.shape.length;
  const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const leading = r >= 2 && axes.length === r - 1 && axes.every((a, i) => a === i) && x.dtype === 'float32';
  if (!leading || util.sizeFromShape(x.shape) < 65536)
    return originals!.Sum({ inputs, backend, attrs: attrs! });
  const ch = x.shape[r - 1]!;
  const m = util.sizeFromShape(x.shape) / ch;
  const ones = c.backend.makeOutput([1, 1, m], 'float32');
  (c.backend.typedArrayFromHeap(ones) as Float32Array).fill(1);
  const x2 = c.run('Reshape', { x }, { shape: [1, m, ch] });
  const prod = c.run('BatchMatMul', { a: ones, b: x2 }, { transposeA: false, transposeB: false });
  const out = c.run(
    'Reshape',
    { x: prod },
    { shape: keepDims ? x.shape.map((s, i) => (i < r - 1 ? 1 : s)) : [ch] },
  );
  c.free(ones, x2, prod);
  return out;
};

// Integer upscales without corner alignment: each input pixel collects an s x s block of dy, i.e. a
// sum pool (average pool times s^2). Other cases: the exact adjoint computed in the heap.
const resizeNearestNeighborGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const c = ctx(backend as BackendWasm);
  const images = inputs['images']!;
  const dy = inputs['dy']!;
  const { alignCorners } = attrs as unknown as ResizeNearestNeighborGradAttrs;
  const [, h, w] = images.shape as [number, number, number, number];
  const bigH = dy.shape[1]!;
  const bigW = dy.shape[2]!;
  if (!alignCorners && bigH % h === 0 && bigW % w === 0) {
    const sh = bigH / h;
    const sw = bigW / w;
    // With half-pixel centres output row o reads input row floor((o + 0.5) / s), which is the same
    // block i = floor(o / s) as without them, so both cases are this sum pool.
    const pooled = c.run(
      'AvgPool',
      { x: dy },
      { filterSize: [sh, sw], strides: [sh, sw], pad: 'valid', dimRoundingMode: undefined },
    );
    const k = c.scalar(sh * sw);
    const out = c.run('Multiply', { a: pooled, b: k });
    c.free(pooled, k);
    return out;
  }
  return resizeNearestGradWasm({ inputs, backend, attrs: attrs! });
};

const PATCHES: Readonly<Record<string, KernelFunc>> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  BatchMatMul: batchMatMul,
  UnsortedSegmentSum: unsortedSegmentSum,
  Slice: slice,
  AvgPoolGrad: avgPoolGrad,
  Sum: sum,
  ResizeNearestNeighborGrad: resizeNearestNeighborGrad,
  ResizeBilinearGrad: resizeBilinearGradWasm,
};

/**
 * Registers the training kernels on the wasm backend. Call after the backend is initialised (the
 * stock kernels' setup must have run). Idempotent.
 */
export function patchWasmKernels(): void {
  if (originals) return;
  const found = {} as Record<Used, KernelFunc>;
  for (const name of USED) {
    const k = tf.getKernel(name, BACKEND);
    if (!k) throw new Error(`tfjs-backend-wasm has no "${name}" kernel: expected version 4.22`);
    found[name] = k.kernelFunc;
  }
  originals = found;
  for (const [kernelName, kernelFunc] of Object.entries(PATCHES)) {
    if (tf.getKernel(kernelName, BACKEND)) tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  }
}

export function wasmKernelsPatched(): boolean {
  return originals !== null;
}
