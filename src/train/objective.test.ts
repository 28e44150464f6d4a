import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import type { Tensor4 } from '../nn/layers.js';
import { ContentLoss } from './objective.js';
import { fineTuneWeights } from './finetune.js';
import { PAPER_WEIGHTS } from './losses.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

/**
 * L_CNT's shipped networks (face-api's face-recognition ResNet in VGGFace's role, its MobileNetV1
 * in VGG19's) pass the right gradients to the generated image: tf.grad against central differences
 * at a few pixels of a tiny input, in float32 (so a step of 2e-3 and a 10% bound; a
 * wrong or missing gradient is off by far more).
 */
test('content loss terms: gradients match finite differences on a tiny image', () => {
  const loss = new ContentLoss({ ...PAPER_WEIGHTS, identity: 1, perceptual: 1 });
  const rng = new Rng(4);
  const S = 12;
  const real = tf.tensor4d(rng.uniformArray(S * S * 3, -0.8, 0.8), [1, S, S, 3]);
  const fake0 = rng.uniformArray(S * S * 3, -0.8, 0.8);
  const r = loss.real(real);
  for (const term of ['identity', 'perceptual'] as const) {
    const f = (x: tf.Tensor) => loss.terms(r, x as Tensor4)[term]!;
    const value = (data: Float32Array) => tf.tidy(() => f(tf.tensor4d(data, [1, S, S, 3])).dataSync()[0]!);
    const g = tf.tidy(() =>
      tf
        .grad(f)(tf.tensor4d(fake0, [1, S, S, 3]))
        .dataSync(),
    );
    const idx = [5, 77, 200, 301, 411];
    let agree = 0;
    for (const i of idx) {
      const eps = 2e-3;
      const up = Float32Array.from(fake0);
      const down = Float32Array.from(fake0);
      up[i]! += eps;
      down[i]! -= eps;
      const num = (value(up) - value(down)) / (2 * eps);
      const scale = Math.max(Math.abs(num), Math.abs(g[i]!), 1e-4);
      if (Math.abs(num - g[i]!) / scale < 0.1) agree++;
      else console.log(`${term} pixel ${i}: analytic ${g[i]} vs numerical ${num}`);
    }
    // a kink of a ReLU or max-pool between x - eps and x + eps may spoil one pixel, not more
    assert.ok(agree >= idx.length - 1, `${term}: ${agree} of ${idx.length} pixels agree`);
    assert.ok(
      g.some((v) => v !== 0),
      `${term}: gradients reach the image`,
    );
  }
  loss.disposeReal(r);
  loss.dispose();
  real.dispose();
});

test("fine-tuning's weights: the model's, without L_MCH, face-api content terms as asked", () => {
  const meta = { ...PAPER_WEIGHTS, identity: 0.3 };
  assert.deepEqual(fineTuneWeights(meta, {}), { ...meta, mch: 0 });
  const w = fineTuneWeights(meta, { identity: 0, perceptual: 0.5 });
  assert.equal(w.identity, 0);
  assert.equal(w.perceptual, 0.5);
  assert.equal(w.pixel, PAPER_WEIGHTS.pixel);
});
