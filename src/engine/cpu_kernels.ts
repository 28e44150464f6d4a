/**
 * Fixes for tfjs-backend-cpu 4.22, the reference backend: its resize gradients are replaced by exact
 * adjoints (see resize_grad.ts for what is wrong with them).
 *
 * Known and not patched: BatchMatMul broadcasting over several batch dims at once (e.g.
 * [2,1,M,K] x [1,3,K,N]) gives wrong values. The networks never do that; the wasm kernel is tested
 * against a direct loop for it instead.
 */
import { registerCpuResizeGrads } from './resize_grad.js';

let patched = false;

export function patchCpuKernels(): void {
  if (patched) return;
  registerCpuResizeGrads();
  patched = true;
}
