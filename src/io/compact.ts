/**
 * Compact storage of model weights: IEEE half precision (F16), and 8-bit weights with one scale per
 * output channel (I8 + a `#q8scale` F32 tensor beside it). Files store them; readers expand them back
 * to float32 before anything else sees the tensors, so the networks always compute in float32.
 *
 * Half precision keeps 11 significant bits (relative error <= 2^-11); the per-channel 8-bit scheme
 * w ~ scale_c * q, q in [-127, 127], scale_c = max|w_c| / 127, has error <= scale_c / 2.
 */
import type { RawTensor } from './safetensors.js';

/** How a model file stores its weights. */
export type Storage = 'f32' | 'f16' | 'q8';
export const STORAGES: readonly Storage[] = ['f32', 'f16', 'q8'];

/** The suffix of an 8-bit tensor's per-channel scales. */
export const Q8_SCALE = '#q8scale';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE 754 binary16 bits, round to nearest even; overflow to infinity, NaN kept. */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // subnormal half (or zero): shift the mantissa with its implicit 1 into place
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

/** IEEE 754 binary16 bits -> float32 value. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Symmetric 8-bit quantisation with one scale per channel of the last axis (a conv's outputs). */
export function quantizeQ8(w: Float32Array, channels: number): { q: Int8Array; scale: Float32Array } {
  if (w.length % channels !== 0) throw new RangeError(`quantizeQ8: ${w.length} values, ${channels} channels`);
  const scale = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) scale[i % channels] = Math.max(scale[i % channels]!, Math.abs(w[i]!));
  for (let c = 0; c < channels; c++) scale[c] = scale[c]! / 127 || 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.round(w[i]! / scale[i % channels]!);
  return { q, scale };
}

export function dequantizeQ8(q: Int8Array, scale: Float32Array): Float32Array {
  const c = scale.length;
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! * scale[i % c]!;
  return out;
}

/**
 * Tensors as `storage` keeps them: float32 ones to F16 (`f16`), and with `q8` also the tensors
 * `useQ8` picks (4-D conv weights) to I8 with their scales. Other dtypes pass unchanged.
 */
export function compactTensors(
  tensors: ReadonlyMap<string, RawTensor>,
  storage: Storage,
  useQ8: (name: string, t: RawTensor) => boolean = () => false,
): Map<string, RawTensor> {
  if (storage === 'f32') return new Map(tensors);
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    if (t.dtype !== 'F32') {
      out.set(name, t);
      continue;
    }
    const data = t.data as Float32Array;
    if (storage === 'q8' && t.shape.length === 4 && useQ8(name, t)) {
      const { q, scale } = quantizeQ8(data, t.shape[3]!);
      out.set(name, { dtype: 'I8', shape: t.shape, data: q });
      out.set(name + Q8_SCALE, { dtype: 'F32', shape: [t.shape[3]!], data: scale });
      continue;
    }
    const h = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) h[i] = toHalf(data[i]!);
    out.set(name, { dtype: 'F16', shape: t.shape, data: h });
  }
  return out;
}

/** The float32 tensors a compact file stands for (F16 expanded, I8 times its scales). */
export function expandTensors(tensors: ReadonlyMap<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    if (name.endsWith(Q8_SCALE)) continue;
    if (t.dtype === 'F16') {
      const h = t.data as Uint16Array;
      const f = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) f[i] = fromHalf(h[i]!);
      out.set(name, { dtype: 'F32', shape: t.shape, data: f });
    } else if (t.dtype === 'I8') {
      const scale = tensors.get(name + Q8_SCALE);
      if (!scale || scale.dtype !== 'F32' || scale.data.length !== t.shape.at(-1))
        throw new RangeError(`8-bit tensor "${name}" has no matching "${name}${Q8_SCALE}"`);
      out.set(name, {
        dtype: 'F32',
        shape: t.shape,
        data: dequantizeQ8(t.data as Int8Array, scale.data as Float32Array),
      });
    } else out.set(name, t);
  }
  return out;
}
