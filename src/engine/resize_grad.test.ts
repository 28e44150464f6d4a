import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initEngine } from './backend.js';
import { Rng } from './rng.js';
import { tf } from './tf.js';

// For a linear map A, <A x, y> = <x, A^T y> for all x, y: the gradient of sum(A(x) * y) with respect
// to x must be A^T y. This checks the gradient against the backend's own forward kernel exactly.
for (const backend of ['cpu', 'wasm'] as const) {
  describe(`resize gradients are the adjoint of the forward (${backend})`, () => {
    const cases = [
      { size: [8, 10], align: false, half: false },
      { size: [8, 10], align: false, half: true },
      { size: [8, 10], align: true, half: false },
      { size: [7, 13], align: false, half: true },
      { size: [3, 4], align: false, half: false },
    ] as const;
    for (const method of ['bilinear', 'nearest'] as const) {
      for (const c of cases) {
        test(`${method} 3x4x5x2 -> ${c.size} align=${c.align} half=${c.half}`, async () => {
          await initEngine({ backend });
          const rng = new Rng(11);
          const shape = [3, 4, 5, 2] as [number, number, number, number];
          const outShape = [3, c.size[0], c.size[1], 2];
          const x = tf.tensor4d(rng.uniformArray(120, -1, 1), shape);
          const y = tf.tensor(rng.uniformArray(outShape.reduce((p, q) => p * q, 1), -1, 1), outShape);
          const f = (t: tf.Tensor) =>
            method === 'bilinear'
              ? tf.image.resizeBilinear(t as tf.Tensor4D, [...c.size], c.align, c.half)
              : tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [...c.size], c.align, c.half);
          const lhs = tf.sum(tf.mul(f(x), y));
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), y)))(x);
          assert.deepEqual(g.shape, shape);
          const rhs = tf.sum(tf.mul(x, g));
          const [l, r] = [lhs.dataSync()[0]!, rhs.dataSync()[0]!];
          assert.ok(Math.abs(l - r) < 1e-4 * Math.max(1, Math.abs(l)), `<Ax,y> = ${l} but <x,A'y> = ${r}`);
          tf.dispose([x, y, lhs, g, rhs]);
        });
      }
    }
  });
}
