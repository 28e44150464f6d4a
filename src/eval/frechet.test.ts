// The Fréchet distance against closed forms (1-D, diagonal, rotated, and the 2x2 trace-of-root
// identity tr(sqrt(M)) = sqrt(tr M + 2 sqrt(det M))), the eigensolver against reconstruction, the
// Gaussian fit against the distribution it sampled, and cosine similarity against hand values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../engine/rng.js';
import {
  cosineSimilarity,
  fitGaussian,
  frechetDistance,
  frechetDistanceOfSamples,
  sqrtPsd,
  symmetricEigen,
  type Gaussian,
} from './frechet.js';

const gauss = (mean: number[], cov: number[]): Gaussian => ({
  dim: mean.length,
  mean: Float64Array.from(mean),
  cov: Float64Array.from(cov),
  n: 1000,
});

/** R(theta) D R(theta)^T for a 2x2 diagonal D. */
function rotated(d1: number, d2: number, theta: number): number[] {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return [c * c * d1 + s * s * d2, c * s * (d1 - d2), c * s * (d1 - d2), s * s * d1 + c * c * d2];
}

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('1-D: N(0, 1) to N(3, 4) is 9 + (1 - 2)^2 = 10; a Gaussian to itself is 0', () => {
  close(frechetDistance(gauss([0], [1]), gauss([3], [4])), 10);
  const g = gauss([1, 2, 3], [2, 0.5, 0, 0.5, 1, 0.2, 0, 0.2, 3]);
  close(frechetDistance(g, g), 0, 1e-9);
});

test('diagonal covariances: sum of squared mean and standard-deviation differences', () => {
  const a = gauss([0, 1, 2], [1, 0, 0, 0, 4, 0, 0, 0, 9]);
  const b = gauss([1, 1, 0], [4, 0, 0, 0, 4, 0, 0, 0, 1]);
  close(frechetDistance(a, b), 1 + 0 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2);
});

test('rotating both Gaussians together changes nothing; S1 = I against R diag(4, 9) R^T gives 5', () => {
  const a = gauss([0, 0], rotated(1, 4, 0.7));
  const b = gauss([0, 0], rotated(9, 16, 0.7));
  close(frechetDistance(a, b), (1 - 3) ** 2 + (2 - 4) ** 2);
  close(frechetDistance(gauss([0, 0], [1, 0, 0, 1]), gauss([0, 0], rotated(4, 9, 1.1))), 1 + 4);
});

test('non-commuting 2x2 covariances: the closed form through tr and det', () => {
  const s1 = [2, 0.3, 0.3, 1];
  const s2 = rotated(5, 0.5, 0.4);
  const det = (m: number[]) => m[0]! * m[3]! - m[1]! * m[2]!;
  const trProd = s1[0]! * s2[0]! + s1[1]! * s2[2]! + s1[2]! * s2[1]! + s1[3]! * s2[3]!;
  const trSqrt = Math.sqrt(trProd + 2 * Math.sqrt(det(s1) * det(s2)));
  const expected = 0.5 ** 2 + 2 ** 2 + s1[0]! + s1[3]! + s2[0]! + s2[3]! - 2 * trSqrt;
  close(frechetDistance(gauss([0.5, 0], s1), gauss([0, 2], s2)), expected);
});

test('eigendecomposition reconstructs a random symmetric matrix; sqrtPsd squares back', () => {
  const n = 12;
  const rng = new Rng(3);
  const b = Float64Array.from(rng.uniformArray(n * n, -1, 1));
  const a = new Float64Array(n * n); // B B^T: symmetric PSD
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += b[i * n + k]! * b[j * n + k]!;
  const { values, vectors } = symmetricEigen(a, n);
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k]! * values[k]! * vectors[j * n + k]!;
      worst = Math.max(worst, Math.abs(s - a[i * n + j]!));
    }
  assert.ok(worst < 1e-10, `reconstruction error ${worst}`);
  const r = sqrtPsd(a, n);
  worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += r[i * n + k]! * r[k * n + j]!;
      worst = Math.max(worst, Math.abs(s - a[i * n + j]!));
    }
  assert.ok(worst < 1e-9, `sqrt^2 error ${worst}`);
});

test('fitGaussian recovers the distribution it sampled; the distance of two samples of it is small', () => {
  const rng = new Rng(9);
  const sample = (n: number) =>
    Array.from({ length: n }, () => {
      const z1 = rng.normal();
      const z2 = rng.normal();
      return [1 + 2 * z1, -1 + 0.5 * z1 + z2]; // cov [[4, 1], [1, 1.25]]
    });
  const g = fitGaussian(sample(20000));
  close(g.mean[0]!, 1, 0.05);
  close(g.mean[1]!, -1, 0.05);
  close(g.cov[0]!, 4, 0.05);
  close(g.cov[1]!, 1, 0.05);
  close(g.cov[3]!, 1.25, 0.05);
  assert.ok(frechetDistance(g, fitGaussian(sample(20000))) < 0.01);
  assert.throws(() => fitGaussian([[1, 2]]), /at least 2/);
});

test('from samples: the n x n route equals the d x d one when features outnumber samples', () => {
  const rng = new Rng(4);
  const rows = (n: number, d: number, shift: number) =>
    Array.from({ length: n }, () =>
      Array.from(rng.uniformArray(d, -1, 1), (v, i) => v * (1 + (i % 3)) + shift),
    );
  const a = rows(7, 20, 0);
  const b = rows(9, 20, 0.3);
  const direct = frechetDistance(fitGaussian(a), fitGaussian(b));
  close(frechetDistanceOfSamples(a, b), direct, 1e-8);
  // and where d <= n it is the covariance route itself
  const c = rows(30, 5, 0);
  const e = rows(40, 5, 1);
  close(frechetDistanceOfSamples(c, e), frechetDistance(fitGaussian(c), fitGaussian(e)));
});

test('cosine similarity: hand values', () => {
  close(cosineSimilarity([1, 0], [0, 1]), 0);
  close(cosineSimilarity([1, 2, 3], [2, 4, 6]), 1);
  close(cosineSimilarity([1, 2, 3], [-1, -2, -3]), -1);
  close(cosineSimilarity([1, 1], [1, 0]), Math.SQRT1_2);
  assert.equal(cosineSimilarity([0, 0], [1, 0]), 0);
});
