/**
 * Fixes for tfjs-backend-cpu 4.22, the reference backend: its resize gradients are replaced by exact
 * adjoints (see resize_grad.ts for what is wrong with them), so is AvgPoolGrad (pool_grad.ts), and
 * its Conv2DBackpropFilter, which
 * indexes through TensorBuffer.get and takes 95% of a training step (0.02 GFLOP/s), by a direct loop
 * over typed arrays. Both are checked by adjoint identities against the forward kernels
 * (src/engine/adjoint.test.ts), which do not depend on these implementations.
 *
 * Known and not patched: BatchMatMul broadcasting over several batch dims at once (e.g.
 * [2,1,M,K] x [1,3,K,N]) gives wrong values. The networks never do that; the wasm kernel is tested
 * against a direct loop for it instead.
 */
import type { Conv2DBackpropFilterAttrs, KernelFunc } from '@tensorflow/tfjs-core';
import type { CpuBackend } from './cpu_backend.js';
import { avgPoolGradCpu } from './pool_grad.js';
import { registerCpuResizeGrads } from './resize_grad.js';
import { tf } from './tf.js';

// dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s + kh*d - pt, ow*s + kw*d - pl, ci] * dy[n,oh,ow,co],
// accumulated with the output channel innermost so the hot loop walks contiguous memory.
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs['x']!;
  const dy = inputs['dy']!;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') throw new Error('Conv2DBackpropFilter (cpu): only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    outChannels: co,
  } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const cpu = backend as CpuBackend;
  const xv = cpu.data.get(x.dataId).values;
  const dyv = cpu.data.get(dy.dataId).values;
  const dw = new Float32Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        const dyOff = ((b * oh + r) * ow + c) * co;
        for (let i = 0; i < kh; i++) {
          const ih = r * sh + i - padInfo.top;
          if (ih < 0 || ih >= h) continue;
          for (let j = 0; j < kw; j++) {
            const iw = c * sw + j - padInfo.left;
            if (iw < 0 || iw >= w) continue;
            const xOff = ((b * h + ih) * w + iw) * ci;
            const wOff = (i * kw + j) * ci * co;
            for (let q = 0; q < ci; q++) {
              const xq = xv[xOff + q]!;
              if (xq === 0) continue;
              const base = wOff + q * co;
              for (let o = 0; o < co; o++) dw[base + o]! += xq * dyv[dyOff + o]!;
            }
          }
        }
      }
    }
  }
  return cpu.makeTensorInfo([kh, kw, ci, co], 'float32', dw);
};

let patched = false;

export function patchCpuKernels(): void {
  if (patched) return;
  registerCpuResizeGrads();
  tf.unregisterKernel('AvgPoolGrad', 'cpu');
  tf.registerKernel({ kernelName: 'AvgPoolGrad', backendName: 'cpu', kernelFunc: avgPoolGradCpu });
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'cpu',
    kernelFunc: conv2DBackpropFilter,
  });
  patched = true;
}
