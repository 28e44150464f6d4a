/**
 * Inference precision (issue 25): on the native backend and a CPU with AVX-512 BF16, the forward
 * convolutions of inference (animation: G' on each chunk of driver frames) run in bfloat16 (inputs
 * and weights rounded to bf16, sums and outputs f32: oneDNN's BF16 kernels at about twice the f32
 * rate). Kept by measurement: the frames stay within SSIM 0.995 of float32 ones (test/precision.test.ts;
 * docs/benchmarks.md). Training (unless --precision bf16), fine-tuning and evaluation (renderTrack's
 * `float32`) stay float32.
 *
 * TALKING_HEADS_PRECISION=f32 turns it off; =bf16 asks for it and says why when it cannot be had.
 * No Node-only import: the browser's render worker runs animate.ts too (float32 there).
 */
import { tf } from './tf.js';

export const PRECISION_ENV = 'TALKING_HEADS_PRECISION';
export type Precision = 'f32' | 'bf16';

/** The native backend's bf16 switch (engine/native.ts registers it with the backend). */
export interface Bf16Switch {
  /** whether this CPU has AVX-512 BF16 */
  cpu(): boolean;
  /** sets the switch; returns the previous setting */
  set(on: boolean): boolean;
  /** all three convolution passes in bf16 (training); returns the previous setting */
  setTraining(on: boolean): boolean;
}
let bf16: Bf16Switch | null = null;

export function registerBf16Switch(s: Bf16Switch): void {
  bf16 = s;
}

const asked = (): string => (typeof process === 'undefined' ? '' : (process.env[PRECISION_ENV] ?? ''));

/** Why bf16 cannot run here (for `what`: inference, training), or null when it can. */
function bf16Missing(what: string): string | null {
  const backend = tf.getBackend();
  if (backend !== 'native' || !bf16) return `bf16 ${what} needs the native backend (this is ${backend})`;
  return bf16.cpu() ? null : 'this CPU has no AVX-512 BF16';
}

/** What inference runs in here, and why. */
export function inferencePrecision(): { precision: Precision; reason: string } {
  const a = asked();
  if (a !== '' && a !== 'f32' && a !== 'bf16')
    throw new RangeError(`${PRECISION_ENV}="${a}": use f32 or bf16`);
  if (a === 'f32') return { precision: 'f32', reason: `${PRECISION_ENV}=f32` };
  const missing = bf16Missing('inference');
  if (missing) return { precision: 'f32', reason: missing };
  return { precision: 'bf16', reason: a === 'bf16' ? `${PRECISION_ENV}=bf16` : 'AVX-512 BF16 CPU (default)' };
}

/**
 * Training with `--precision bf16` (meta-train, fine-tune): the convolutions oneDNN runs directly
 * take bf16 operands in all three passes, with f32 sums, gradients and master weights (the weights
 * are rounded per call); Winograd convolutions stay float32. Returns what restores float32. Where
 * bf16 cannot be had it says so through `log` and trains in float32.
 */
export function trainingPrecision(p: Precision, log: (s: string) => void): () => void {
  if (p === 'f32') return () => {};
  const missing = bf16Missing('training');
  if (missing || !bf16) {
    log(`--precision bf16: ${missing}; training in float32`);
    return () => {};
  }
  const s = bf16;
  const before = s.setTraining(true);
  return () => void s.setTraining(before);
}

let warned = false;

/** Runs `fn` (an inference forward pass) in the inference precision, then back to float32. */
export function withInferencePrecision<T>(fn: () => T): T {
  const { precision, reason } = inferencePrecision();
  if (precision === 'f32' || !bf16) {
    if (asked() === 'bf16' && !warned) {
      warned = true;
      console.warn(`bf16 inference asked for, running float32: ${reason}`);
    }
    return fn();
  }
  const before = bf16.set(true);
  try {
    return fn();
  } finally {
    bf16.set(before);
  }
}
