/**
 * Per-kernel time profile: wraps every kernel of a backend to measure exclusive milliseconds and
 * call counts. For `npm run bench -- --profile`; it adds overhead, so never leave it on while timing.
 */
import { tf } from './tf.js';

export interface KernelProfile {
  /** kernel name -> exclusive ms and calls since the last reset */
  readonly stats: Map<string, { ms: number; calls: number }>;
  reset(): void;
  /** Restores the original kernels. */
  stop(): void;
  table(steps: number, top?: number): string;
}

export function profileKernels(backendName: string): KernelProfile {
  const stats = new Map<string, { ms: number; calls: number }>();
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
      try {
        return inner(args);
      } finally {
        const child = stack.pop()!;
        const dt = performance.now() - t0;
        if (stack.length) stack[stack.length - 1]! += dt;
        const s = stats.get(name) ?? { ms: 0, calls: 0 };
        s.ms += dt - child;
        s.calls++;
        stats.set(name, s);
      }
    };
    restore.push(() => {
      cfg.kernelFunc = inner;
    });
  }
  return {
    stats,
    reset: () => stats.clear(),
    stop: () => restore.forEach((r) => r()),
    table(steps, top = 20) {
      const total = [...stats.values()].reduce((a, s) => a + s.ms, 0);
      const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
      const lines = [`kernel time per step (exclusive), total ${(total / steps).toFixed(1)} ms/step`];
      for (const [name, s] of rows) {
        lines.push(
          `  ${name.padEnd(28)} ${(s.ms / steps).toFixed(2).padStart(9)} ms ${((100 * s.ms) / total).toFixed(1).padStart(5)}%  ${(s.calls / steps).toFixed(0).padStart(5)} calls`,
        );
      }
      return lines.join('\n');
    },
  };
}
