/**
 * Per-kernel profile: wraps every kernel of a backend to measure exclusive milliseconds, call counts
 * and the bytes of the tensors each kernel returns (what it allocates), and records the peak of live
 * tensor bytes with the kernel that reached it. For `npm run bench -- --profile` (issue 25: where a
 * training step's memory goes); it adds overhead, so never leave it on while timing.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
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
  /** the most live tensor bytes seen after a kernel since the last reset, and that kernel */
  readonly peak: { bytes: number; kernel: string };
  reset(): void;
  /** Restores the original kernels. */
  stop(): void;
  table(steps: number, top?: number): string;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, string: 0 };

/** Bytes of a kernel's outputs (one TensorInfo or several). */
export function outputBytes(out: TensorInfo | TensorInfo[]): number {
  const all = Array.isArray(out) ? out : [out];
  return all.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * (BYTES[t.dtype] ?? 4), 0);
}

export function profileKernels(backendName: string): KernelProfile {
  const stats = new Map<string, KernelStats>();
  const peak = { bytes: 0, kernel: '' };
  const stack: number[] = [];
  const restore: (() => void)[] = [];
  for (const k of tf.getKernelsForBackend(backendName)) {
    const inner = k.kernelFunc;
    const name = k.kernelName;
    // KernelConfig objects live in the registry: swapping kernelFunc affects the next lookups.
    const cfg = k as { kernelFunc: typeof inner };
    cfg.kernelFunc = (args) => {
      const t0 = performance.now();
      stack.push(0);
      let out: ReturnType<typeof inner> | undefined;
      try {
        out = inner(args);
        return out;
      } finally {
        const child = stack.pop()!;
        const dt = performance.now() - t0;
        if (stack.length) stack[stack.length - 1]! += dt;
        const s = stats.get(name) ?? { ms: 0, calls: 0, bytes: 0 };
        s.ms += dt - child;
        s.calls++;
        // the outputs are not registered with the engine yet: live bytes plus these
        const made = out && !(out instanceof Promise) ? outputBytes(out as TensorInfo | TensorInfo[]) : 0;
        s.bytes += made;
        stats.set(name, s);
        const live = tf.memory().numBytes + made;
        if (live > peak.bytes) [peak.bytes, peak.kernel] = [live, name];
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
      [peak.bytes, peak.kernel] = [0, ''];
    },
    stop: () => restore.forEach((r) => r()),
    table(steps, top = 20) {
      const total = [...stats.values()].reduce((a, s) => a + s.ms, 0);
      const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
      const mb = (b: number) => (b / 2 ** 20).toFixed(1);
      const lines = [
        `kernel time and output memory per step (exclusive), total ${(total / steps).toFixed(1)} ms/step; ` +
          `peak of live tensors ${mb(peak.bytes)} MB, after ${peak.kernel || '-'}`,
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
