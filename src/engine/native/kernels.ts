/**
 * The native backend's kernel table: each TF.js kernel the addon implements, as a KernelFunc over
 * the cpu backend's storage, with the cpu kernel as the fallback for cases the addon does not cover.
 * One file per family; what they share is in kernel_util.ts.
 */
import type { KernelFunc } from '@tensorflow/tfjs-core';
import type { Addon } from './addon.js';
import { convKernels } from './conv_kernels.js';
import { fusedKernels } from './fused_kernels.js';
import type { KernelContext } from './kernel_util.js';
import { mathKernels } from './math_kernels.js';
import { movementKernels } from './movement_kernels.js';
import { windowKernels } from './window_kernels.js';

export function kernels(A: Addon, cpu: (name: string) => KernelFunc): Record<string, KernelFunc> {
  const k: KernelContext = { A, fallback: (name, args) => cpu(name)(args) };
  return {
    ...convKernels(k),
    ...mathKernels(k),
    ...movementKernels(k),
    ...windowKernels(k),
    ...fusedKernels(k),
  };
}
