// ArcFace's IResNet for CSIM: parameter counts against insightface's published sizes, embedding
// shapes with random weights, and the loader (names, shapes, the NCHW flatten of fc).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { noiseImages } from '../../test/helpers/images.js';
import { tf } from '../engine/tf.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { ARCFACE_FEATURES, ArcFace, iresnetShapes } from './arcface.js';
import { arcfaceWeights } from '../../test/helpers/weights.js';

before(async () => {
  await initEngine();
});

test('parameters: iresnet50 43.6M and iresnet100 65.2M, as insightface lists them', () => {
  for (const [depth, millions] of [
    [50, 43.6],
    [100, 65.2],
  ] as const) {
    let n = 0;
    for (const [k, s] of iresnetShapes(depth)) if (!k.includes('running')) n += s.reduce((a, b) => a * b, 1);
    assert.ok(Math.abs(n / 1e6 - millions) < 0.05, `iresnet${depth}: ${n}`);
  }
});

test('embeddings: [B, 512], finite, different for different faces; the input size is checked', () => {
  const net = ArcFace.random(50, 1);
  try {
    const before = tf.memory().numTensors;
    const ims = noiseImages(2, 64, 2);
    const e = net.embed(ims);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(e.length === 2 && e.every((x) => x.length === ARCFACE_FEATURES && x.every(Number.isFinite)));
    assert.ok(e[0]!.some((v, i) => Math.abs(v - e[1]![i]!) > 1e-6));
    assert.throws(() => net.forward(tf.zeros([1, 96, 96, 3]) as tf.Tensor4D), /112, 112, 3/);
  } finally {
    net.dispose();
  }
});

test("arcface_torch's names and layouts load (depth from the names); missing or misshapen tensors are named", () => {
  const rng = new Rng(3);
  const tensors = arcfaceWeights(rng);
  const dir = mkdtempSync(join(tmpdir(), 'arcface-'));
  writeFileSync(join(dir, 'ok.safetensors'), encodeSafetensors(tensors));
  const net = ArcFace.load(join(dir, 'ok.safetensors'));
  assert.equal(net.depth, 50);
  net.dispose();
  const missing = new Map(tensors);
  missing.delete('layer3.7.prelu.weight');
  writeFileSync(join(dir, 'missing.safetensors'), encodeSafetensors(missing));
  assert.throws(() => ArcFace.load(join(dir, 'missing.safetensors')), /no tensor "layer3\.7\.prelu\.weight"/);
  const wrong = new Map(tensors);
  wrong.set('fc.weight', { shape: [25088, 512], data: new Float32Array(25088 * 512) });
  writeFileSync(join(dir, 'wrong.safetensors'), encodeSafetensors(wrong));
  assert.throws(() => ArcFace.load(join(dir, 'wrong.safetensors')), /expected F32 \[512,25088\]/);
});
