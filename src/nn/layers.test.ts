// The shape-only ops of nn/layers.ts (addSame, avgPool2, nearest upsample2) against the TF.js ops they
// replace: the same values, the same gradients, and less kept on the tape for the backward pass.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initEngine, nativeAvailable } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { gradients, tapeKeeps } from '../engine/tape.js';
import { tf, type Tensor } from '../engine/tf.js';
import { addSame, avgPool2, upsample2, type Tensor4 } from './layers.js';

const rand = (rng: Rng, shape: [number, number, number, number]) =>
  tf.tensor4d(
    Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
    shape,
  );

/** The loss's value and its gradient wrt x, as arrays. */
function valueAndGrad(f: (x: Tensor4) => Tensor, x: Tensor4): { y: Float32Array; g: Float32Array } {
  const r = gradients(() => f(x), [x]);
  const out = { y: r.value.dataSync() as Float32Array, g: r.grads[0]!.dataSync() as Float32Array };
  tf.dispose([r.value, r.grads[0]!]);
  return out;
}

for (const backend of ['cpu', 'native'] as const) {
  const skip = backend === 'native' && !nativeAvailable() ? 'native addon not built' : false;
  describe(`shape-only ops, ${backend} backend`, { skip }, () => {
    test('values and gradients as TF.js computes them', async () => {
      await initEngine({ backend, threads: 2 });
      const rng = new Rng(11);
      const x = rand(rng, [2, 6, 10, 3]);
      const wy = rand(rng, [2, 6, 10, 3]);
      const wp = rand(rng, [2, 3, 5, 3]);
      const wu = rand(rng, [2, 12, 20, 3]);
      // weights make every output position matter differently, so a misplaced gradient shows
      const cases: [string, (x: Tensor4) => Tensor, (x: Tensor4) => Tensor, number][] = [
        [
          'addSame',
          (x) => tf.sum(tf.mul(addSame(tf.mul(x, x) as Tensor4, tf.sin(x) as Tensor4), wy)),
          (x) => tf.sum(tf.mul(tf.add(tf.mul(x, x), tf.sin(x)), wy)),
          0,
        ],
        [
          'avgPool2',
          (x) => tf.sum(tf.mul(avgPool2(x), wp)),
          (x) => tf.sum(tf.mul(tf.avgPool(x, 2, 2, 'valid'), wp)),
          0,
        ],
        [
          'upsample2 nearest',
          (x) => tf.sum(tf.mul(upsample2(x, 'nearest'), wu)),
          (x) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x, [12, 20]), wu)),
          // the gradient sums each 2x2 window in another order than TF.js's kernel
          1e-6,
        ],
      ];
      for (const [name, mine, ref, tol] of cases) {
        const a = valueAndGrad(mine, x);
        const b = valueAndGrad(ref, x);
        assert.deepEqual(a.y, b.y, `${name}: value`);
        if (tol === 0) assert.deepEqual(a.g, b.g, `${name}: gradient`);
        else
          a.g.forEach((v, i) =>
            assert.ok(Math.abs(v - b.g[i]!) <= tol * (1 + Math.abs(b.g[i]!)), `${name}: gradient ${i}`),
          );
      }
      // odd sizes: avgPool2 is TF.js's own op (valid pooling drops the last row)
      const odd = rand(rng, [1, 5, 4, 2]);
      assert.deepEqual(avgPool2(odd).shape, [1, 2, 2, 2]);
      assert.throws(() => addSame(x, wu), /shapes \[2,6,10,3\] and \[2,12,20,3\] differ/);
      tf.dispose([x, wy, wp, wu, odd]);
    });

    test('what the tape keeps: less than with the TF.js ops', async () => {
      await initEngine({ backend, threads: 2 });
      const rng = new Rng(3);
      const x = rand(rng, [2, 32, 32, 8]);
      // a residual block's tail: two branches, each pooled (in its own tidy, as networks.ts runs
      // blocks), then added: once a branch ends, only the tape can keep what it made alive
      const branch = (pool: (t: Tensor4) => Tensor4, f: (t: Tensor) => Tensor) =>
        tf.tidy(() => pool(f(x) as Tensor4));
      const tfPool = (t: Tensor4) => tf.avgPool(t, 2, 2, 'valid');
      const mine = () => tf.sum(tf.square(addSame(branch(avgPool2, tf.sin), branch(avgPool2, tf.cos))));
      const ref = () => tf.sum(tf.square(tf.add(branch(tfPool, tf.sin), branch(tfPool, tf.cos))));
      const full = 2 * 32 * 32 * 8 * 4;
      // TF.js's ops keep sin(x) and cos(x) (AvgPool's, for the shape) and both pooled halves (Add's);
      // both keep x (for sin's and cos's gradients), the sum (Square's) and its square (Sum's shape)
      assert.equal(tapeKeeps(ref, [x]), full + 2 * full + 2 * (full / 4) + 2 * (full / 4));
      assert.equal(tapeKeeps(mine, [x]), full + 2 * (full / 4));
      x.dispose();
    });
  });
}
