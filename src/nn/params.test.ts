import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { countParams, disposeTree, flatten, mapTree, subtree, unflatten } from './params.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

test('flatten/unflatten: sorted dotted paths, round trip, clear errors', () => {
  const tree = { b: { y: tf.zeros([2]), x: tf.ones([3, 1]) }, a: tf.scalar(1) };
  const flat = flatten(tree);
  assert.deepEqual([...flat.keys()], ['a', 'b.x', 'b.y']);
  const back = unflatten(flat);
  assert.deepEqual([...flatten(back).keys()], ['a', 'b.x', 'b.y']);
  assert.equal(countParams(tree), 6);
  assert.deepEqual(Object.keys(subtree(tree, 'b')).sort(), ['x', 'y']);
  assert.throws(() => subtree(tree, 'c'), /No parameter group "c"/);
  assert.throws(() => flatten({ 'a.b': tf.scalar(0) }), /must not contain "."/);
  const doubled = mapTree(tree, (t) => tf.mul(t, 2));
  assert.deepEqual([...flatten(doubled).get('b.x')!.dataSync()], [2, 2, 2]);
  disposeTree(doubled);
  disposeTree(tree);
});

test('Rng is deterministic, forkable and restorable', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  assert.deepEqual(Array.from(a.uniformArray(5)), Array.from(b.uniformArray(5)));
  const s = a.state;
  const x = a.next();
  a.state = s;
  assert.equal(a.next(), x);
  const picks = new Rng(1).sample(10, 10).sort((p, q) => p - q);
  assert.deepEqual(picks, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const normals = new Rng(3).normalArray(20000);
  const mean = normals.reduce((p, q) => p + q, 0) / normals.length;
  const variance = normals.reduce((p, q) => p + (q - mean) ** 2, 0) / normals.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
});
