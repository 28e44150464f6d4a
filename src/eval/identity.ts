/**
 * Identity features for the paper's CSIM and FID (sec. 4, docs/design.md sec. 6) from the networks this
 * machine has. The paper uses ArcFace embeddings (CSIM) and Inception-v3 pool3 features (FID); their
 * weights cannot be downloaded here (arcface.ts and inception.ts take them when a user supplies
 * them), so by default both come from face-api's face-recognition ResNet (128-D descriptor, bundled
 * in the npm package) and the metrics carry its name wherever they are printed or stored:
 * CSIM-faceapi, FD-faceapi. They are not the paper's numbers (docs/evaluation.md: on 64px
 * procedural heads they barely separate the good methods).
 */
import { FaceIdNet } from '../pretrained/faceid.js';
import type { Tensor4 } from '../nn/layers.js';
import { cosineSimilarity } from './frechet.js';
import { featuresOf } from '../pretrained/features.js';
import type { RgbImage } from '../media/image.js';

export const CSIM_NAME = 'CSIM-faceapi';
export const FD_NAME = 'FD-faceapi';

let net: FaceIdNet | null = null;

/** face-api's 128-D descriptors of face crops (any size, resized to 150), in batches. */
export function faceDescriptors(images: RgbImage[], batch = 16): Float32Array[] {
  net ??= FaceIdNet.load();
  const n = net;
  return featuresOf(images, (x) => n.forward(x as Tensor4).descriptor, 128, null, batch);
}

/** CSIM per pair: cosine similarity of the descriptors of a[i] and b[i]. */
export function csim(a: RgbImage[], b: RgbImage[]): number[] {
  if (a.length !== b.length) throw new RangeError(`csim: ${a.length} and ${b.length} images`);
  const da = faceDescriptors(a);
  const db = faceDescriptors(b);
  return da.map((d, i) => cosineSimilarity(d, db[i]!));
}
