/**
 * Resize gradients for both backends, written as the exact adjoints of tfjs's forward kernels (same
 * source coordinates, same clamping); resize_grad.test.ts checks <resize(x), dy> = <x, grad(dy)>.
 *
 * Why: in tfjs 4.22, cpu's ResizeBilinearGrad returns [N, W, H, C] instead of [N, H, W, C] and
 * ignores half-pixel centres, wasm's ignores half-pixel centres, and both ResizeNearestNeighborGrad
 * kernels are wrong for batch > 1 (cpu) or for half-pixel centres at non-integer scales (both).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, ResizeBilinearGradAttrs } from '@tensorflow/tfjs-core';
import type { CpuBackend } from './cpu_backend.js';
import { tf } from './tf.js';

/** Source coordinate of output index o along one axis, as the forward kernel computes it. */
function axisMap(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean) {
  const ratio = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? ratio * (o + 0.5) - 0.5 : ratio * o;
    const floor = Math.max(0, Math.floor(src));
    lo[o] = floor;
    hi[o] = Math.min(inSize - 1, Math.ceil(src));
    frac[o] = src - floor;
  }
  return { lo, hi, frac };
}

/** dx [N,H,W,C] from dy [N,OH,OW,C]. */
export function resizeBilinearBackward(
  dy: ArrayLike<number>,
  dyShape: readonly number[],
  inShape: readonly number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
  out: Float32Array = new Float32Array(inShape[0]! * inShape[1]! * inShape[2]! * inShape[3]!),
): Float32Array {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [, oh, ow] = dyShape as [number, number, number, number];
  const rows = axisMap(h, oh, alignCorners, halfPixelCenters);
  const cols = axisMap(w, ow, alignCorners, halfPixelCenters);
  out.fill(0);
  let k = 0;
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let r = 0; r < oh; r++) {
      const top = base + rows.lo[r]! * w * c;
      const bot = base + rows.hi[r]! * w * c;
      const fr = rows.frac[r]!;
      for (let q = 0; q < ow; q++) {
        const left = cols.lo[q]! * c;
        const right = cols.hi[q]! * c;
        const fc = cols.frac[q]!;
        // forward: (1-fr)((1-fc) TL + fc TR) + fr((1-fc) BL + fc BR)
        const tl = (1 - fr) * (1 - fc);
        const tr = (1 - fr) * fc;
        const bl = fr * (1 - fc);
        const br = fr * fc;
        for (let d = 0; d < c; d++) {
          const g = dy[k++]!;
          out[top + left + d]! += g * tl;
          out[top + right + d]! += g * tr;
          out[bot + left + d]! += g * bl;
          out[bot + right + d]! += g * br;
        }
      }
    }
  }
  return out;
}

/** Source index of output index o along one axis, as the forward nearest-neighbour kernel picks it. */
function nearestMap(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean) {
  const ratio = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  const idx = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
    let i = Math.min(inSize - 1, alignCorners ? Math.round(src) : Math.floor(src));
    if (halfPixelCenters) i = Math.max(0, i);
    idx[o] = i;
  }
  return idx;
}

/** dx [N,H,W,C] from dy [N,OH,OW,C]: each dy pixel goes back to the one input pixel it copied. */
export function resizeNearestBackward(
  dy: ArrayLike<number>,
  dyShape: readonly number[],
  inShape: readonly number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
  out: Float32Array = new Float32Array(inShape[0]! * inShape[1]! * inShape[2]! * inShape[3]!),
): Float32Array {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [, oh, ow] = dyShape as [number, number, number, number];
  const rows = nearestMap(h, oh, alignCorners, halfPixelCenters);
  const cols = nearestMap(w, ow, alignCorners, halfPixelCenters);
  out.fill(0);
  let k = 0;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      const row = (b * h + rows[r]!) * w * c;
      for (let q = 0; q < ow; q++) {
        const px = row + cols[q]! * c;
        for (let d = 0; d < c; d++) out[px + d]! += dy[k++]!;
      }
    }
  }
  return out;
}

type Backward = typeof resizeBilinearBackward;

function cpuKernel(backward: Backward): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const images = inputs['images']!;
    const dy = inputs['dy']!;
    const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeBilinearGradAttrs;
    const cpu = backend as CpuBackend;
    const out = backward(
      cpu.data.get(dy.dataId).values,
      dy.shape,
      images.shape,
      alignCorners,
      halfPixelCenters,
    );
    return cpu.makeTensorInfo([...images.shape], 'float32', out);
  };
}

/** The adjoint computed in the wasm heap (used where no XNNPACK formulation exists). */
export function wasmKernel(backward: Backward): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const images = inputs['images']!;
    const dy = inputs['dy']!;
    const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeBilinearGradAttrs;
    const wasm = backend as BackendWasm;
    const out = wasm.makeOutput([...images.shape], 'float32');
    // Views after the allocation: it may have grown the heap.
    const dyv = wasm.typedArrayFromHeap(dy);
    const ov = wasm.typedArrayFromHeap(out) as Float32Array;
    backward(dyv, dy.shape, images.shape, alignCorners, halfPixelCenters, ov);
    return out;
  };
}

export const resizeBilinearGradWasm = wasmKernel(resizeBilinearBackward);
export const resizeNearestGradWasm = wasmKernel(resizeNearestBackward);

/** Registers both resize gradients on the cpu backend (the wasm patches use the exports above). */
export function registerCpuResizeGrads(): void {
  for (const [kernelName, backward] of [
    ['ResizeBilinearGrad', resizeBilinearBackward],
    ['ResizeNearestNeighborGrad', resizeNearestBackward],
  ] as const) {
    if (tf.getKernel(kernelName, 'cpu')) tf.unregisterKernel(kernelName, 'cpu');
    tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc: cpuKernel(backward) });
  }
}
