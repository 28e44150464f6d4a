/** Choosing the TF.js backend in a worker: a real GPU (WebGPU, then WebGL) when there is one, else wasm. */
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { patchWasmKernels } from '../../src/engine/wasm_kernels.js';
import { tf } from '../../src/engine/tf.js';

/** Whether WebGPU runs on real hardware (software adapters lose to wasm). */
async function hardwareWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    const adapter = (await gpu.requestAdapter()) as { info?: { isFallbackAdapter?: boolean } } | null;
    return adapter !== null && adapter.info?.isFallbackAdapter !== true;
  } catch {
    return false;
  }
}

/** Whether WebGL runs on real hardware (not SwiftShader or llvmpipe). */
function hardwareWebGl(): boolean {
  try {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
    if (!gl) return false;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(
      ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
    );
    return !/swiftshader|llvmpipe|software|basic render/i.test(renderer);
  } catch {
    return false;
  }
}

export interface Backend {
  name: string;
  threads: number;
  simd: boolean;
}

/** `wanted`: a backend name (the page's ?backend=), or null for the best this browser has. */
export async function startBackend(wanted: string | null): Promise<Backend> {
  const order = wanted ? [wanted] : ['webgpu', 'webgl', 'wasm'];
  for (const name of order) {
    if (!wanted && name === 'webgpu' && !(await hardwareWebGpu())) continue;
    if (!wanted && name === 'webgl' && !hardwareWebGl()) continue;
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        if (name !== 'wasm') return { name, threads: 0, simd: true };
        patchWasmKernels(); // the gradients fine-tuning needs that tfjs's wasm backend lacks
        return { name, threads: getThreadsCount(), simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
      }
    } catch {
      // this one failed to start: try the next
    }
  }
  throw new Error(`No TF.js backend could start (tried ${order.join(', ')})`);
}
