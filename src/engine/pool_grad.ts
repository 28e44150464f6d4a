/**
 * AvgPoolGrad as the exact adjoint of tfjs's forward AvgPool. The forward averages over the window's
 * pixels inside the image (padding excluded), but the stock cpu and wasm gradients divide by the full
 * window size, which is wrong at the borders of 'same'-padded pools (adjoint.test.ts shows it).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { AvgPoolGradAttrs, KernelFunc } from '@tensorflow/tfjs-core';
import type { CpuBackend } from './cpu_backend.js';
import { tf } from './tf.js';

interface PoolGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  oh: number;
  ow: number;
}

export function poolGeometry(inputShape: readonly number[], attrs: AvgPoolGradAttrs): PoolGeometry {
  const ci = tf.backend_util.computePool2DInfo(
    inputShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
  );
  return {
    n: ci.batchSize,
    h: ci.inHeight,
    w: ci.inWidth,
    c: ci.inChannels,
    kh: ci.filterHeight,
    kw: ci.filterWidth,
    sh: ci.strideHeight,
    sw: ci.strideWidth,
    pt: ci.padInfo.top,
    pl: ci.padInfo.left,
    oh: ci.outHeight,
    ow: ci.outWidth,
  };
}

/** dx [N,H,W,C] from dy [N,OH,OW,C]. */
export function avgPoolBackward(
  dy: ArrayLike<number>,
  g: PoolGeometry,
  out: Float32Array<ArrayBufferLike> = new Float32Array(g.n * g.h * g.w * g.c),
): Float32Array<ArrayBufferLike> {
  out.fill(0);
  const { n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow } = g;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(0, oy * sh - pt);
      const y1 = Math.min(h, oy * sh - pt + kh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.max(0, ox * sw - pl);
        const x1 = Math.min(w, ox * sw - pl + kw);
        const inv = 1 / ((y1 - y0) * (x1 - x0));
        const src = ((b * oh + oy) * ow + ox) * c;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const dst = ((b * h + y) * w + x) * c;
            for (let k = 0; k < c; k++) out[dst + k]! += dy[src + k]! * inv;
          }
        }
      }
    }
  }
  return out;
}

export const avgPoolGradCpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const dy = inputs['dy']!;
  const input = inputs['input']!;
  const cpu = backend as CpuBackend;
  const out = avgPoolBackward(
    cpu.data.get(dy.dataId).values,
    poolGeometry(input.shape, attrs as unknown as AvgPoolGradAttrs),
  );
  return cpu.makeTensorInfo([...input.shape], 'float32', out);
};

export const avgPoolGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const dy = inputs['dy']!;
  const input = inputs['input']!;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([...input.shape], 'float32');
  // Views after the allocation: it may have grown the heap.
  avgPoolBackward(
    wasm.typedArrayFromHeap(dy),
    poolGeometry(input.shape, attrs as unknown as AvgPoolGradAttrs),
    wasm.typedArrayFromHeap(out) as Float32Array,
  );
  return out;
};
