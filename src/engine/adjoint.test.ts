import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initEngine } from './backend.js';
import { Rng } from './rng.js';
import { tf } from './tf.js';

// For a linear map A, <A x, y> = <x, A^T y> for all x, y: the gradient of sum(A(x) * y) with respect
// to x must be A^T y. This checks each gradient kernel against the backend's own forward kernel,
// independently of how the gradient is implemented.
for (const backend of ['cpu', 'wasm'] as const) {
  describe(`conv gradients are the adjoints of the forward (${backend})`, () => {
    for (const [k, s, pad, h, w] of [
      [3, 1, 'same', 9, 10],
      [4, 2, 'same', 9, 10],
      [9, 1, 'same', 12, 11],
      [3, 2, 'valid', 11, 8],
      [1, 1, 'valid', 5, 6],
    ] as const) {
      test(`k${k} s${s} ${pad} 2x${h}x${w}x3 -> 4`, async () => {
        await initEngine({ backend });
        const rng = new Rng(k + s);
        const x = tf.tensor4d(rng.uniformArray(2 * h * w * 3, -1, 1), [2, h, w, 3]);
        const f = tf.tensor4d(rng.uniformArray(k * k * 12, -1, 1), [k, k, 3, 4]);
        const y = tf.conv2d(x, f, s, pad);
        const dy = tf.tensor(rng.uniformArray(y.size, -1, 1), y.shape);
        const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)),
        )([x, f]);
        const lhs = tf.sum(tf.mul(y, dy)).dataSync()[0]!;
        const viaX = tf.sum(tf.mul(x, gx!)).dataSync()[0]!;
        const viaW = tf.sum(tf.mul(f, gf!)).dataSync()[0]!;
        const tol = 1e-4 * Math.max(1, Math.abs(lhs));
        assert.ok(Math.abs(lhs - viaX) < tol, `<conv(x,w),dy> = ${lhs}, <x,dX> = ${viaX}`);
        assert.ok(Math.abs(lhs - viaW) < tol, `<conv(x,w),dy> = ${lhs}, <w,dW> = ${viaW}`);
        tf.dispose([x, f, y, dy, gx!, gf!]);
      });
    }
  });

  describe(`resize gradients are the adjoint of the forward (${backend})`, () => {
    const cases = [
      { size: [8, 10], align: false, half: false },
      { size: [8, 10], align: false, half: true },
      { size: [8, 10], align: true, half: false },
      { size: [7, 13], align: false, half: true },
      { size: [3, 4], align: false, half: false },
    ] as const;
    for (const [k, st, pad, h, w] of [
      [2, 2, 'valid', 8, 6],
      [3, 2, 'same', 9, 7],
      [3, 1, 'same', 5, 6],
      [2, 2, 'valid', 9, 7],
    ] as const) {
      test(`avgPool k${k} s${st} ${pad} ${h}x${w}`, async () => {
        await initEngine({ backend });
        const rng = new Rng(5);
        const x = tf.tensor4d(rng.uniformArray(2 * h * w * 3, -1, 1), [2, h, w, 3]);
        const y = tf.avgPool(x, k, st, pad);
        const dy = tf.tensor(rng.uniformArray(y.size, -1, 1), y.shape);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, k, st, pad), dy)))(x);
        const [l, r] = [tf.sum(tf.mul(y, dy)).dataSync()[0]!, tf.sum(tf.mul(x, g)).dataSync()[0]!];
        assert.ok(Math.abs(l - r) < 1e-4 * Math.max(1, Math.abs(l)), `<Ax,y> = ${l} but <x,A'y> = ${r}`);
        tf.dispose([x, y, dy, g]);
      });
    }
    for (const method of ['bilinear', 'nearest'] as const) {
      for (const c of cases) {
        test(`${method} 3x4x5x2 -> ${c.size} align=${c.align} half=${c.half}`, async () => {
          await initEngine({ backend });
          const rng = new Rng(11);
          const shape = [3, 4, 5, 2] as [number, number, number, number];
          const outShape = [3, c.size[0], c.size[1], 2];
          const x = tf.tensor4d(rng.uniformArray(120, -1, 1), shape);
          const y = tf.tensor(
            rng.uniformArray(
              outShape.reduce((p, q) => p * q, 1),
              -1,
              1,
            ),
            outShape,
          );
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
