/** Value conventions shared by data, networks and the browser app. */

/** uint8 [0, 255] -> [-1, 1], the value range of frames and landmark images in the networks. */
export function toUnit(
  src: Uint8Array,
  out: Float32Array = new Float32Array(src.length),
  offset = 0,
): Float32Array {
  for (let i = 0; i < src.length; i++) out[offset + i] = src[i]! / 127.5 - 1;
  return out;
}
