/**
 * Identity features for the paper's CSIM and FID (sec. 4, design.md sec. 6) from the networks this
 * machine has. The paper uses ArcFace embeddings (CSIM) and Inception-v3 pool3 features (FID); their
 * weights cannot be downloaded here, so both come from face-api's face-recognition ResNet (128-D
 * descriptor, bundled in the npm package) and the metrics carry its name wherever they are printed or
 * stored: CSIM-faceapi, FD-faceapi. They rank methods the same way but are not the paper's numbers.
 */
import { tf } from '../engine/tf.js';
import { FaceIdNet } from '../models/faceid.js';
import type { Tensor4 } from '../models/layers.js';
import { cosineSimilarity, fitGaussian, frechetDistance } from './frechet.js';
import type { Rgb8 } from './metrics.js';

export const CSIM_NAME = 'CSIM-faceapi';
export const FD_NAME = 'FD-faceapi';

let net: FaceIdNet | null = null;

/** face-api's 128-D descriptors of face crops (any size, resized to 150), in batches. */
export function faceDescriptors(images: Rgb8[], batch = 16): Float32Array[] {
  net ??= FaceIdNet.load();
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += batch) {
    const group = images.slice(i, i + batch);
    const { width: w, height: h } = group[0]!;
    if (group.some((im) => im.width !== w || im.height !== h))
      throw new RangeError('faceDescriptors: images in a batch must have one size');
    const d = tf.tidy(() => {
      const x = new Float32Array(group.length * w * h * 3);
      group.forEach((im, k) => {
        for (let j = 0; j < im.data.length; j++) x[k * w * h * 3 + j] = im.data[j]! / 127.5 - 1;
      });
      return net!.forward(tf.tensor4d(x, [group.length, h, w, 3]) as Tensor4).descriptor;
    });
    const flat = d.dataSync() as Float32Array;
    d.dispose();
    for (let k = 0; k < group.length; k++) out.push(flat.slice(k * 128, (k + 1) * 128));
  }
  return out;
}

/** CSIM per pair: cosine similarity of the descriptors of a[i] and b[i]. */
export function csim(a: Rgb8[], b: Rgb8[]): number[] {
  if (a.length !== b.length) throw new RangeError(`csim: ${a.length} and ${b.length} images`);
  const da = faceDescriptors(a);
  const db = faceDescriptors(b);
  return da.map((d, i) => cosineSimilarity(d, db[i]!));
}

/** Fréchet distance between the descriptor distributions of two image sets (FD-faceapi). */
export function faceFd(a: Rgb8[], b: Rgb8[]): number {
  return frechetDistance(fitGaussian(faceDescriptors(a)), fitGaussian(faceDescriptors(b)));
}
