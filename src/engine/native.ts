/**
 * The `native` backend: tensors live in ordinary JavaScript typed arrays (no 4 GB wasm heap ceiling)
 * and the kernels a training step spends its time in run in native/addon.cc — convolutions and
 * matmuls through oneDNN (the library PyTorch uses on CPU), elementwise ops, reductions, softmax,
 * transposes and pooling as OpenMP loops. Everything else falls back to tfjs-backend-cpu's JavaScript
 * kernels (reported by `nativeFallbacks()`, and logged once per kernel when it is not a cheap data
 * movement op). It is registered when the optional addon has been built (scripts/build-native.mjs).
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { KernelFunc, NamedAttrMap } from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './fused.js';
import { loadAddon, nativeLoadError } from './native/addon.js';
import { kernels } from './native/kernels.js';
import { pool } from './native/pool.js';
import { registerBf16Switch } from './precision.js';
import { tf } from './tf.js';

export { loadAddon, nativeLoadError } from './native/addon.js';
export { nativePoolStats } from './native/pool.js';

const QUIET_FALLBACKS = new Set([
  'Reshape',
  'Identity',
  'StridedSlice',
  'Concat',
  'Pack',
  'Unpack',
  'Fill',
  'Cast',
  'GatherV2',
  'ZerosLike',
  'OnesLike',
  'Tile',
  'PadV2',
  'Range',
  'Select',
  'Complex',
  'Real',
  'Imag',
  'ExpandDims',
  'Squeeze',
  'OneHot',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'Equal',
  'NotEqual',
  'LogicalAnd',
  'LogicalOr',
  'LogicalNot',
  'ResizeNearestNeighbor',
  'ResizeBilinear',
  'ResizeNearestNeighborGrad',
  'ResizeBilinearGrad',
  'UnsortedSegmentSum',
  'ArgMax',
  'ArgMin',
  'IsNan',
  'Reverse',
  'Prelu',
  'SplitV',
  'MirrorPad',
  'Einsum',
  'TopK',
  'Where',
  'SelectV2',
  'Bincount',
  'Max',
]);
const fallbacks = new Set<string>();

/** Kernels that ran on the JavaScript fallback in this process. */
export function nativeFallbacks(): string[] {
  return [...fallbacks].sort();
}

type DataId = object;

export class NativeBackend extends MathBackendCPU {
  override write(
    values: Parameters<MathBackendCPU['write']>[0],
    shape: number[],
    dtype: tf.DataType,
  ): DataId {
    const id = super.write(values, shape, dtype);
    pool.written(values, id);
    return id;
  }

  override move(
    dataId: DataId,
    values: Parameters<MathBackendCPU['move']>[1],
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    super.move(dataId, values, shape, dtype, refCount);
    pool.written(values, dataId);
  }

  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    const values = super.readSync(dataId);
    pool.escape(values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const freed = super.disposeData(dataId, force);
    if (freed && values !== undefined && !this.data.has(dataId)) pool.released(values, dataId);
    return freed;
  }

  override dispose(): void {
    pool.clear();
    super.dispose();
  }
}

let registered = false;

/**
 * Registers the `native` backend (once) if the addon loads; returns whether it is available.
 * Call after the cpu kernel fixes are registered: native copies every cpu kernel as its fallback.
 */
export function registerNativeBackend(threads?: number): boolean {
  const A = loadAddon();
  if (!A) return false;
  if (threads) A.setThreads(threads);
  if (registered) return true;
  tf.registerBackend('native', () => new NativeBackend(), 1);
  // animation's bf16 convolutions (engine/precision.ts)
  registerBf16Switch({
    cpu: () => A.cpuBf16(),
    set: (on) => {
      const prev = A.bf16();
      A.bf16(on);
      return prev;
    },
    setTraining: (on) => {
      const prev = A.bf16Training();
      A.bf16Training(on);
      return prev;
    },
  });
  const cpuKernels = new Map(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, k.kernelFunc]));
  const cpu = (name: string) => {
    const f = cpuKernels.get(name);
    if (!f) throw new Error(`native backend: no cpu fallback for ${name}`);
    return f;
  };
  const own = kernels(A, cpu);
  for (const kernelName of FUSED_KERNELS)
    tf.registerKernel({ kernelName, backendName: 'native', kernelFunc: own[kernelName]! });
  for (const [kernelName, cpuFunc] of cpuKernels) {
    const kernelFunc: KernelFunc =
      own[kernelName] ??
      ((args) => {
        if (!fallbacks.has(kernelName)) {
          fallbacks.add(kernelName);
          if (!QUIET_FALLBACKS.has(kernelName))
            process.stderr.write(`native backend: ${kernelName} runs on the JavaScript fallback\n`);
        }
        return cpuFunc(args);
      });
    tf.registerKernel({ kernelName, backendName: 'native', kernelFunc });
  }
  registered = true;
  return true;
}

export function nativeThreads(): number {
  return loadAddon()?.getThreads() ?? 0;
}

/**
 * Winograd settings of the addon (native/winograd.cc). `minChannels`: the channel count from which
 * 3x3 stride-1 convolutions run as Winograd (default 32; 1: every such convolution, for tests;
 * Infinity: never). `tile`: 0 picks F(2x2, 3x3) or F(4x4, 3x3) by size, 2 or
 * 4 forces one. Sets what is given and returns the previous values, with how many convolution passes
 * have run as Winograd so far.
 */
export function nativeWinograd(set: { minChannels?: number; tile?: 0 | 2 | 4 } = {}): {
  minChannels: number;
  tile: number;
  calls: number;
} {
  const A = loadAddon();
  if (!A) throw new Error(`native addon ${nativeLoadError()}`);
  const n = set.minChannels === undefined ? undefined : Math.min(set.minChannels, 2 ** 31 - 1);
  const minChannels = A.winogradMin(n);
  const tile = A.winogradTile(set.tile);
  return { minChannels, tile, calls: A.winogradCalls() };
}

/** The instruction sets our multi-build kernels exist for (native/isa.h), lowest first. */
export const NATIVE_ISAS = ['baseline', 'avx2', 'avx512'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

/**
 * The instruction set the addon's own multi-build kernels (the Winograd transforms) use, and the
 * best this CPU runs. `set` switches them (capped at the CPU's best): tests compare the builds,
 * benchmarks time them side by side. NTH_ISA=baseline|avx2|avx512 sets it at load.
 */
export function nativeIsa(set?: NativeIsa): { active: NativeIsa; cpu: NativeIsa } {
  const A = loadAddon();
  if (!A) throw new Error(`native addon ${nativeLoadError()}`);
  return { active: A.isa(set) as NativeIsa, cpu: A.cpuIsa() as NativeIsa };
}

/**
 * Whether the addon's forward convolutions run in bfloat16 (`active`), and whether this CPU can
 * (`cpu`: AVX-512 BF16). `set` switches it; engine/precision.ts does so around inference passes.
 */
export function nativeBf16(set?: boolean): { active: boolean; training: boolean; cpu: boolean } {
  const A = loadAddon();
  if (!A) throw new Error(`native addon ${nativeLoadError()}`);
  return { active: A.bf16(set), training: A.bf16Training(), cpu: A.cpuBf16() };
}

export function nativeVersion(): string | null {
  return loadAddon()?.version() ?? null;
}

export type { NamedAttrMap };
