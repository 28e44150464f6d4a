/**
 * The fused operations: engine-level contracts that a backend may implement as one kernel each.
 * Models and optimizers name them only through this module, never through one backend's file. A
 * backend that registers a kernel under one of these names must match its reference composition
 * (the TF.js ops the caller falls back to when `hasFused` is false): conv + bias in
 * nn/layers.ts, instance norm and spectral norm in nn/layers.ts and models/blocks.ts, Adam
 * in train/optim.ts, attention (inference) in nn/layers.ts. src/engine/native.test.ts holds each kernel to its twin. Today the native
 * backend implements all of them; wasm, cpu and tensorflow run the compositions.
 */
import { tf } from './tf.js';

/** Conv2D + bias (inputs x, filter, bias; Conv2D's attrs); its gradient is registered in
 * src/nn/layers.ts, one pass per input that needs one. */
export const CONV_BIAS_KERNEL = 'NthConv2DBias';

/** Fused instance norm: inputs x [B,H,W,C], gamma and beta ([C] or [B,C] values); attrs eps and
 * relu (max(y, 0) in the same pass: inference only, the gradient kernel assumes it off); outputs
 * y, mean [B,C], rstd [B,C]. Its gradient: inputs dy, x, gamma, mean, rstd; outputs dx and the
 * per-sample dgamma, dbeta [B,C]. */
export const IN_KERNEL = 'NthInstanceNorm';
export const IN_GRAD_KERNEL = 'NthInstanceNormGrad';

/** Fused spectral-norm kernels: power iteration (inputs w, u; attr update; outputs u', v), W / sigma
 * (inputs w, u, v; outputs W / sigma, sigma) and its gradient (inputs dy, w, u, v, sigma). */
export const SN_POWER_KERNEL = 'NthSpectralPower';
export const SN_DIV_KERNEL = 'NthSpectralDiv';
export const SN_DIV_GRAD_KERNEL = 'NthSpectralDivGrad';

/** Name of the fused Adam kernel (inputs p, m, v, g; attrs lr, beta1, beta2, eps, step; outputs p, m, v). */
export const ADAM_KERNEL = 'NthAdamUpdate';

/** Attention for inference: inputs q, k [B,N,ck], v [B,N,cv]; output softmax(q k^T) v [B,N,cv],
 * without the N x N scores in memory. No gradient: nn/layers.ts attention() takes it only when told
 * no gradient will be asked for (BlockOpts.inference). */
export const ATTENTION_KERNEL = 'NthAttention';

/** Every fused kernel name, for backends that register them all. */
export const FUSED_KERNELS = [
  CONV_BIAS_KERNEL,
  IN_KERNEL,
  IN_GRAD_KERNEL,
  SN_POWER_KERNEL,
  SN_DIV_KERNEL,
  SN_DIV_GRAD_KERNEL,
  ADAM_KERNEL,
  ATTENTION_KERNEL,
] as const;

/** Whether the active backend implements the fused kernel `name`. */
export function hasFused(name: (typeof FUSED_KERNELS)[number]): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}
