import { Rng } from '../../src/engine/rng.js';
import type { RgbImage } from '../../src/media/image.js';

/** `n` images of uniform random RGB noise, `size` x `size`, from `seed`. */
export function noiseImages(n: number, size: number, seed: number): RgbImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    width: size,
    height: size,
    data: Uint8Array.from(rng.uniformArray(size * size * 3, 0, 255)),
  }));
}
