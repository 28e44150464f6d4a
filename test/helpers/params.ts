/**
 * Biases no gradient can reach in theory: they feed an instance norm (which subtracts them again), or
 * shift every attention logit of a row equally. In practice they get round-off gradients, and Adam
 * (which divides by the gradient's own scale) turns those into steps of up to lr, so two runs that
 * agree to float tolerance elsewhere differ there by whole steps; those leaves do not change what
 * the networks compute.
 */
export const unreachableBias = (path: string): boolean =>
  /^G\.(enc|res|up)\d+\.(conv[12]|skip)\.bias$/.test(path) || /\.attn\.g\.bias$|Attn\.g\.bias$/.test(path);
