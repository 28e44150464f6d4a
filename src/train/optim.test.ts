import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { disposeTree, flatten, type ParamTree } from '../nn/params.js';
import { Adam, valueAndGrads } from './optim.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

test('valueAndGrads over a tree: analytic gradients, unused leaves and selection', () => {
  const params: ParamTree = { a: { w: tf.tensor1d([1, 2]) }, b: tf.scalar(3), unused: tf.scalar(0) };
  // f = sum(w^2) * b  ->  df/dw = 2 w b, df/db = sum(w^2)
  const f = (p: ParamTree) =>
    tf.mul(tf.sum(tf.square((p['a'] as ParamTree)['w'] as tf.Tensor)), p['b'] as tf.Tensor) as tf.Scalar;
  const { value, grads } = valueAndGrads(f, params);
  assert.equal(value.dataSync()[0], 15);
  const g = flatten(grads);
  assert.deepEqual([...g.keys()], ['a.w', 'b']);
  assert.deepEqual([...g.get('a.w')!.dataSync()], [6, 12]);
  assert.deepEqual([...g.get('b')!.dataSync()], [5]);
  const only = valueAndGrads(f, params, (p) => p.startsWith('a.'));
  assert.deepEqual([...flatten(only.grads).keys()], ['a.w']);
  tf.dispose([value, only.value]);
  disposeTree(grads);
  disposeTree(only.grads);
  disposeTree(params);
});

test('Adam matches a hand-computed reference, per group, with bias correction', () => {
  let params: ParamTree = { g: { w: tf.tensor1d([1, -1]) }, d: { w: tf.tensor1d([0.5]) } };
  const adam = new Adam(
    {
      G: { match: (p) => p.startsWith('g.'), lr: 0.1, beta1: 0.9, beta2: 0.999 },
      D: { match: (p) => p.startsWith('d.'), lr: 0.01, beta1: 0, beta2: 0.9 },
    },
    params,
  );
  // Reference in plain numbers.
  const ref = { g: [1, -1], d: [0.5], mg: [0, 0], vg: [0, 0], md: [0], vd: [0] };
  const gradsSeq = [
    { g: [0.2, -0.4], d: [1] },
    { g: [0.1, 0.3], d: [-2] },
    { g: [-0.5, 0.2], d: [0.5] },
  ];
  for (const [t, gs] of gradsSeq.entries()) {
    params = adam.update(params, { g: { w: tf.tensor1d(gs.g) }, d: { w: tf.tensor1d(gs.d) } });
    const step = t + 1;
    gs.g.forEach((gi, i) => {
      ref.mg[i] = 0.9 * ref.mg[i]! + 0.1 * gi;
      ref.vg[i] = 0.999 * ref.vg[i]! + 0.001 * gi * gi;
      const mh = ref.mg[i]! / (1 - 0.9 ** step);
      const vh = ref.vg[i]! / (1 - 0.999 ** step);
      ref.g[i]! -= (0.1 * mh) / (Math.sqrt(vh) + 1e-8);
    });
    gs.d.forEach((gi, i) => {
      ref.md[i] = gi;
      ref.vd[i] = 0.9 * ref.vd[i]! + 0.1 * gi * gi;
      ref.d[i]! -= (0.01 * ref.md[i]!) / (Math.sqrt(ref.vd[i]! / (1 - 0.9 ** step)) + 1e-8);
    });
  }
  const got = flatten(params);
  [...got.get('g.w')!.dataSync()].forEach((v, i) =>
    assert.ok(Math.abs(v - ref.g[i]!) < 1e-6, `g.w[${i}] ${v} vs ${ref.g[i]}`),
  );
  assert.ok(Math.abs(got.get('d.w')!.dataSync()[0]! - ref.d[0]!) < 1e-6);
  assert.deepEqual(adam.state().steps, { G: 3, D: 3 });
  // A D-only update advances only D's step count.
  params = adam.update(params, { d: { w: tf.tensor1d([1]) } });
  assert.deepEqual(adam.state().steps, { G: 3, D: 4 });
  assert.throws(() => adam.update(params, { x: tf.scalar(1) }), /no optimizer group owns/);
  assert.throws(
    () =>
      new Adam(
        {
          A: { match: () => true, lr: 1, beta1: 0, beta2: 0 },
          B: { match: () => true, lr: 1, beta1: 0, beta2: 0 },
        },
        params,
      ),
    /matches several optimizer groups/,
  );
  adam.dispose();
  disposeTree(params);
});
