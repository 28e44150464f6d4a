/**
 * Per-kernel profile: wraps every kernel of a backend to measure exclusive milliseconds, call counts
 * and the bytes of the tensors each kernel returns (what it allocates), and records the peak of live
 * buffers with the kernel that reached it and which kernels made what was live then. For
 * `npm run bench -- --profile` (issue 25: where a training step's memory goes); it adds overhead, so
 * never leave it on while timing.
 *
 * Memory is counted in backend buffers (the backend's write / move / disposeData), not in tensors:
 * `tf.memory().numBytes` counts every tensor handle, and the clones TF.js keeps for gradients share
 * their buffer with the original, so it counts an activation once per clone.
 */
import type { BackendValues, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from './tf.js';

export interface KernelStats {
  ms: number;
  calls: number;
  /** bytes of the outputs it returned */
  bytes: number;
}

export interface KernelProfile {
  /** kernel name -> exclusive ms, calls and output bytes since the last reset */
  readonly stats: Map<string, KernelStats>;
  /** the most live buffer bytes seen after a kernel since the last reset (those live at the start
   * counted as `tf.memory().numBytes` then), that kernel, and the bytes live then by the kernel
   * that made them ('upload': written outside any kernel, 'before': live at the start) */
  readonly peak: { bytes: number; kernel: string; by: Map<string, number> };
  reset(): void;
  /** Restores the original kernels. */
  stop(): void;
  table(steps: number, top?: number): string;
}

/** The buffer methods of a TF.js backend (KernelBackend's), wrapped to count live buffers. */
interface BufferBackend {
  write(values: BackendValues, shape: number[], dtype: tf.DataType): object;
  move(dataId: object, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void;
  disposeData(dataId: object, force?: boolean): boolean;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, string: 0 };

/** Bytes of a kernel's outputs (one TensorInfo or several). */
export function outputBytes(out: TensorInfo | TensorInfo[]): number {
  const all = Array.isArray(out) ? out : [out];
  return all.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * (BYTES[t.dtype] ?? 4), 0);
}

export function profileKernels(backendName: string): KernelProfile {
  const stats = new Map<string, KernelStats>();
  const peak = { bytes: 0, kernel: '', by: new Map<string, number>() };
  const stack: number[] = [];
  const names: string[] = [];
  const restore: (() => void)[] = [];

  // Live buffers made since the start (or the last reset), by the kernel that made them.
  const live = new Map<object, { bytes: number; kernel: string }>();
  const byKernel = new Map<string, number>();
  let before = 0;
  let liveBytes = 0;
  const start = () => {
    live.clear();
    byKernel.clear();
    liveBytes = 0;
    before = tf.memory().numBytes;
  };
  start();
  const be = tf.findBackend(backendName) as BufferBackend | null;
  if (be) {
    const { write, move, disposeData } = be;
    const add = (id: object, shape: number[], dtype: tf.DataType) => {
      const prev = live.get(id);
      if (prev) forget(id, prev);
      const rec = {
        bytes: shape.reduce((a, b) => a * b, 1) * (BYTES[dtype] ?? 4),
        kernel: names.at(-1) ?? 'upload',
      };
      live.set(id, rec);
      liveBytes += rec.bytes;
      byKernel.set(rec.kernel, (byKernel.get(rec.kernel) ?? 0) + rec.bytes);
    };
    const forget = (id: object, rec: { bytes: number; kernel: string }) => {
      live.delete(id);
      liveBytes -= rec.bytes;
      byKernel.set(rec.kernel, byKernel.get(rec.kernel)! - rec.bytes);
    };
    be.write = (values, shape, dtype) => {
      const id = write.call(be, values, shape, dtype);
      add(id, shape, dtype);
      return id;
    };
    be.move = (id, values, shape, dtype, refCount) => {
      move.call(be, id, values, shape, dtype, refCount);
      add(id, shape, dtype);
    };
    // a buffer from before the start: its size, where the backend keeps values (cpu, native)
    const data = (
      be as unknown as { data?: { get(id: object): { values?: { byteLength?: number } } | undefined } }
    ).data;
    be.disposeData = (id, force) => {
      const rec = live.get(id);
      const old = rec ? 0 : (data?.get(id)?.values?.byteLength ?? 0);
      const freed = disposeData.call(be, id, force);
      if (freed && rec) forget(id, rec);
      // (an optimizer step replaces the weights that were live at the start)
      else if (freed && old > 0) before -= old;
      return freed;
    };
    // own properties shadow the prototype's methods; deleting them restores those
    restore.push(() => {
      const own = be as Partial<BufferBackend>;
      delete own.write;
      delete own.move;
      delete own.disposeData;
    });
  }

  for (const k of tf.getKernelsForBackend(backendName)) {
    const inner = k.kernelFunc;
    const name = k.kernelName;
    // KernelConfig objects live in the registry: swapping kernelFunc affects the next lookups.
    const cfg = k as { kernelFunc: typeof inner };
    cfg.kernelFunc = (args) => {
      const t0 = performance.now();
      stack.push(0);
      names.push(name);
      let out: ReturnType<typeof inner> | undefined;
      try {
        out = inner(args);
        return out;
      } finally {
        names.pop();
        const child = stack.pop()!;
        const dt = performance.now() - t0;
        if (stack.length) stack[stack.length - 1]! += dt;
        const s = stats.get(name) ?? { ms: 0, calls: 0, bytes: 0 };
        s.ms += dt - child;
        s.calls++;
        s.bytes += out && !(out instanceof Promise) ? outputBytes(out as TensorInfo | TensorInfo[]) : 0;
        stats.set(name, s);
        if (before + liveBytes > peak.bytes) {
          [peak.bytes, peak.kernel] = [before + liveBytes, name];
          peak.by = new Map([['before', before], ...byKernel]);
        }
      }
    };
    restore.push(() => {
      cfg.kernelFunc = inner;
    });
  }
  return {
    stats,
    peak,
    reset: () => {
      stats.clear();
      [peak.bytes, peak.kernel, peak.by] = [0, '', new Map()];
      start();
    },
    stop: () => restore.forEach((r) => r()),
    table(steps, top = 20) {
      const total = [...stats.values()].reduce((a, s) => a + s.ms, 0);
      const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
      const mb = (b: number) => (b / 2 ** 20).toFixed(1);
      const held = [...peak.by.entries()]
        .filter(([, b]) => b > 0)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, b]) => `${k} ${mb(b)}`)
        .join(', ');
      const lines = [
        `kernel time and output memory per step (exclusive), total ${(total / steps).toFixed(1)} ms/step; ` +
          `peak of live buffers ${mb(peak.bytes)} MB, after ${peak.kernel || '-'}; live then, MB by the kernel that made it: ${held || '-'}`,
      ];
      for (const [name, s] of rows) {
        lines.push(
          `  ${name.padEnd(28)} ${(s.ms / steps).toFixed(2).padStart(9)} ms ${((100 * s.ms) / total).toFixed(1).padStart(5)}%  ${(s.calls / steps).toFixed(0).padStart(5)} calls ${mb(s.bytes / steps).padStart(9)} MB out`,
        );
      }
      return lines.join('\n');
    },
  };
}
