/**
 * Memory discipline for training loops. Each step runs in `tf.tidy` (or disposes explicitly); a
 * `MemoryGuard` checks after every step that the number of live tensors is back where it was after
 * warm-up, and names the step where it grew, so a leak fails fast instead of exhausting memory hours
 * into a run.
 */
import { tf } from '../engine/tf.js';

export class TensorLeakError extends Error {
  override name = 'TensorLeakError';
}

export class MemoryGuard {
  private baseline: number | null = null;
  private seen = 0;

  /** @param warmup steps before the baseline is taken (first steps may create lasting state). */
  constructor(
    private readonly warmup = 1,
    private readonly allowance = 0,
  ) {}

  /** Call after each step; throws TensorLeakError when live tensors exceed the baseline. */
  check(step: number): void {
    const n = tf.memory().numTensors;
    this.seen++;
    if (this.seen === this.warmup) this.baseline = n;
    else if (this.baseline !== null && n > this.baseline + this.allowance) {
      throw new TensorLeakError(
        `Tensor leak: ${n} live tensors after step ${step}, ${this.baseline} after warm-up ` +
          `(+${n - this.baseline} per ${this.seen - this.warmup} steps). Run the step in tf.tidy or dispose its outputs.`,
      );
    }
  }

  get baselineTensors(): number | null {
    return this.baseline;
  }
}

/** Reads scalar losses to numbers and disposes them (one sync per step, after the step's work). */
export function readScalars<K extends string>(scalars: Record<K, tf.Scalar>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(scalars) as K[]) {
    out[k] = scalars[k].dataSync()[0]!;
    scalars[k].dispose();
  }
  return out;
}

/** The first metric that is NaN or infinite, as "name = value", or null (the caller stops the run). */
export function nonFinite(metrics: Record<string, number>): string | null {
  for (const [k, v] of Object.entries(metrics)) if (!Number.isFinite(v)) return `${k} = ${v}`;
  return null;
}
