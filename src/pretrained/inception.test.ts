// Inception-v3 for FID: the architecture's parameter count against torchvision's published total,
// pool3 shapes with random weights, and the weight loader's checks (names, shapes, layout).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { noiseImages } from '../../test/helpers/images.js';
import { tf } from '../engine/tf.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { INCEPTION_CONVS, INCEPTION_FEATURES, InceptionV3 } from './inception.js';
import { pytorchFidWeights } from '../../test/helpers/weights.js';

before(async () => {
  await initEngine();
});

test("parameter count: torchvision's inception_v3 (27,161,264) less AuxLogits and fc", () => {
  let n = 0;
  for (const c of INCEPTION_CONVS) n += c.kh * c.kw * c.cin * c.cout + 2 * c.cout; // conv + BN affine
  // AuxLogits: conv0 768->128 1x1 (+BN), conv1 128->768 5x5 (+BN), fc 768->1000; fc 2048->1000
  const aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000;
  const fc = 2048 * 1000 + 1000;
  assert.equal(n, 27161264 - aux - fc);
});

test('pool3 features: [B, 2048], finite, different for different images', () => {
  const net = InceptionV3.random(1);
  try {
    const before = tf.memory().numTensors;
    const ims = noiseImages(2, 64, 2);
    const f = net.features(ims);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(f.length, 2);
    assert.ok(f.every((x) => x.length === INCEPTION_FEATURES && x.every(Number.isFinite)));
    assert.ok(f[0]!.some((v, i) => Math.abs(v - f[1]![i]!) > 1e-6));
    assert.throws(() => net.forward(tf.zeros([1, 224, 224, 3]) as tf.Tensor4D), /299, 299, 3/);
  } finally {
    net.dispose();
  }
});

test("weights in pytorch-fid's names and layouts load; a missing or misshapen tensor is named", () => {
  const rng = new Rng(3);
  const tensors = pytorchFidWeights(rng);
  const dir = mkdtempSync(join(tmpdir(), 'inception-'));
  const good = join(dir, 'ok.safetensors');
  writeFileSync(good, encodeSafetensors(tensors));
  const net = InceptionV3.load(good);
  net.dispose();
  const missing = new Map(tensors);
  missing.delete('Mixed_6c.branch7x7dbl_3.conv.weight');
  writeFileSync(join(dir, 'missing.safetensors'), encodeSafetensors(missing));
  assert.throws(
    () => InceptionV3.load(join(dir, 'missing.safetensors')),
    /no tensor "Mixed_6c\.branch7x7dbl_3\.conv\.weight"/,
  );
  const wrong = new Map(tensors);
  wrong.set('Conv2d_1a_3x3.conv.weight', { shape: [32, 3, 3, 3].reverse(), data: new Float32Array(864) });
  writeFileSync(join(dir, 'wrong.safetensors'), encodeSafetensors(wrong));
  assert.throws(() => InceptionV3.load(join(dir, 'wrong.safetensors')), /expected F32 \[32,3,3,3\]/);
  assert.throws(() => InceptionV3.load(join(dir, 'none.safetensors')), /Cannot read Inception-v3 weights/);
});
