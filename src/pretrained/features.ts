/** Feature networks over 8-bit images, in batches (Inception-v3, ArcFace, face-api's descriptor). */
import { tf } from '../engine/tf.js';
import type { RgbImage } from '../media/image.js';

/**
 * `net`'s `dim`-D rows for each image: pixels to [-1, 1], resized to size x size (bilinear, half-pixel
 * centres) unless `size` is null, `batch` images at a time (each batch of one size).
 */
export function featuresOf(
  images: RgbImage[],
  net: (x: tf.Tensor4D) => tf.Tensor2D,
  dim: number,
  size: number | null,
  batch: number,
): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += batch) {
    const group = images.slice(i, i + batch);
    const { width: w, height: h } = group[0]!;
    if (group.some((im) => im.width !== w || im.height !== h))
      throw new RangeError('featuresOf: images in a batch must have one size');
    const f = tf.tidy(() => {
      const x = new Float32Array(group.length * w * h * 3);
      group.forEach((im, k) => {
        for (let j = 0; j < im.data.length; j++) x[k * w * h * 3 + j] = im.data[j]! / 127.5 - 1;
      });
      const t = tf.tensor4d(x, [group.length, h, w, 3]);
      return net(size === null ? t : tf.image.resizeBilinear(t, [size, size], false, true));
    });
    const flat = f.dataSync() as Float32Array;
    f.dispose();
    for (let k = 0; k < group.length; k++) out.push(flat.slice(k * dim, (k + 1) * dim));
  }
  return out;
}
