import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { relativeError } from '../engine/kernel_check.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import type { Tensor4 } from '../nn/layers.js';
import { depthwise3x3, MobileNetV1 } from './mobilenet.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

test('tap-based depthwise conv equals tf.depthwiseConv2d (values and gradients), strides 1 and 2, odd sizes', () => {
  for (const [h, w, s] of [
    [8, 8, 1],
    [8, 8, 2],
    [9, 7, 2],
    [5, 6, 1],
  ] as const) {
    tf.tidy(() => {
      const rng = new Rng(h * 10 + w + s);
      const x = tf.tensor4d(rng.uniformArray(2 * h * w * 4, -1, 1), [2, h, w, 4]);
      const k = tf.tensor4d(rng.uniformArray(36, -1, 1), [3, 3, 4, 1]);
      const r = tf.tensor(rng.uniformArray(2 * Math.ceil(h / s) * Math.ceil(w / s) * 4, -1, 1), [
        2,
        Math.ceil(h / s),
        Math.ceil(w / s),
        4,
      ]);
      const ours = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(depthwise3x3(a as Tensor4, b as tf.Tensor4D, s), r));
      const ref = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same'), r));
      assert.ok(
        relativeError(depthwise3x3(x, k, s).dataSync(), tf.depthwiseConv2d(x, k, s, 'same').dataSync()) <
          1e-6,
        `values ${h}x${w} s${s}`,
      );
      const [gx, gk] = tf.grads(ours)([x, k]);
      const [rx, rk] = tf.grads(ref)([x, k]);
      assert.ok(relativeError(gx!.dataSync(), rx!.dataSync()) < 1e-5, `dx ${h}x${w} s${s}`);
      assert.ok(relativeError(gk!.dataSync(), rk!.dataSync()) < 1e-5, `dw ${h}x${w} s${s}`);
    });
  }
});

test("face-api's MobileNetV1 backbone: same features as with tf.depthwiseConv2d; shapes; gradients reach the input", () => {
  const net = MobileNetV1.load();
  tf.tidy(() => {
    const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const f = net.features(x);
    assert.deepEqual(
      f.map((t) => t.shape),
      [
        [1, 32, 32, 64],
        [1, 16, 16, 128],
        [1, 8, 8, 256],
        [1, 4, 4, 512],
      ],
    );
    const ref = net.features(x, (a, w, s) => tf.depthwiseConv2d(a, w, s, 'same') as Tensor4);
    f.forEach((t, i) => assert.ok(relativeError(t.dataSync(), ref[i]!.dataSync()) < 1e-4, `feature ${i}`));
    assert.ok(
      f[3]!.dataSync().some((v) => v > 0),
      'features are not all zero',
    );
    const g = tf.grad((t: tf.Tensor) => tf.sum(net.features(t as tf.Tensor4D)[2]!))(x);
    assert.ok(g.dataSync().some((v) => v !== 0));
  });
  net.dispose();
});
