/**
 * Inference precision (issue 25): on the native backend and a CPU with AVX-512 BF16, the forward
 * convolutions of inference (animation: G' on each chunk of driver frames) run in bfloat16 (inputs
 * and weights rounded to bf16, sums and outputs f32: oneDNN's BF16 kernels at about twice the f32
 * rate). Kept by measurement: the frames stay within SSIM 0.995 of float32 ones (test/precision.test.ts;
 * docs/benchmarks.md). Training, fine-tuning and evaluation stay float32.
 *
 * TALKING_HEADS_PRECISION=f32 turns it off; =bf16 asks for it and says why when it cannot be had.
 */
import { engineInfo } from './backend.js';
import { loadAddon } from './native/addon.js';

export const PRECISION_ENV = 'TALKING_HEADS_PRECISION';
export type Precision = 'f32' | 'bf16';

/** What inference runs in here, and why. */
export function inferencePrecision(): { precision: Precision; reason: string } {
  const asked = process.env[PRECISION_ENV] ?? '';
  if (asked !== '' && asked !== 'f32' && asked !== 'bf16')
    throw new RangeError(`${PRECISION_ENV}="${asked}": use f32 or bf16`);
  if (asked === 'f32') return { precision: 'f32', reason: `${PRECISION_ENV}=f32` };
  const backend = engineInfo().backend;
  if (backend !== 'native')
    return { precision: 'f32', reason: `bf16 inference needs the native backend (this is ${backend})` };
  const addon = loadAddon();
  if (!addon?.cpuBf16()) return { precision: 'f32', reason: 'this CPU has no AVX-512 BF16' };
  return {
    precision: 'bf16',
    reason: asked === 'bf16' ? `${PRECISION_ENV}=bf16` : 'AVX-512 BF16 CPU (default)',
  };
}

let warned = false;

/** Runs `fn` (an inference forward pass) in the inference precision, then back to float32. */
export function withInferencePrecision<T>(fn: () => T): T {
  const { precision, reason } = inferencePrecision();
  if (precision === 'f32') {
    if (process.env[PRECISION_ENV] === 'bf16' && !warned) {
      warned = true;
      process.stderr.write(`bf16 inference asked for, running float32: ${reason}\n`);
    }
    return fn();
  }
  const addon = loadAddon()!;
  const before = addon.bf16();
  addon.bf16(true);
  try {
    return fn();
  } finally {
    addon.bf16(before);
  }
}
