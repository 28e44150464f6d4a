// The engine's acceptance tests (issue: foundation): the probe network, which uses every op the
// talking-head networks train with, gets the same gradients on wasm as on cpu, trains on wasm,
// keeps tensor memory flat, is deterministic, and resumes from a checkpoint bit for bit.
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initEngine } from '../src/engine/backend.js';
import { relativeError } from '../src/engine/kernel_check.js';
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import type { Tensor4 } from '../src/nn/layers.js';
import { flatten } from '../src/nn/params.js';
import { initProbeNet } from '../src/models/probe_net.js';
import {
  CheckpointError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
} from '../src/train/checkpoint.js';
import { MemoryGuard, TensorLeakError } from '../src/train/loop.js';
import { valueAndGrads } from '../src/train/optim.js';
import { blobImages, loadProbeTrainer, makeProbeTrainer, probeLoss } from '../src/train/probe.js';
import { tempDir } from './helpers/tmp.js';

const CFG = { channels: 4, resolution: 16 };

function batch(seed: number, b = 2, res = CFG.resolution): Tensor4 {
  return tf.tensor4d(blobImages(new Rng(seed), b, res), [b, res, res, 3]);
}

before(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('probe network on wasm', () => {
  test('gradients for every parameter match the cpu backend', async () => {
    const grads: Record<string, Map<string, Float32Array>> = {};
    for (const backend of ['cpu', 'wasm']) {
      await initEngine({ backend });
      const params = initProbeNet(CFG, new Rng(7));
      const x = batch(3);
      const { value, grads: g } = valueAndGrads((p) => probeLoss(p, x), params);
      const flat = flatten(g);
      grads[backend] = new Map([...flat].map(([k, t]) => [k, t.dataSync() as Float32Array]));
      tf.dispose([value, x, ...flat.values(), ...flatten(params).values()]);
    }
    const cpu = grads['cpu']!;
    const wasm = grads['wasm']!;
    const nParams = flatten(tf.tidy(() => initProbeNet(CFG, new Rng(7)))).size;
    assert.equal(cpu.size, nParams, 'every parameter receives a gradient');
    assert.equal(wasm.size, nParams);
    // Two biases cannot change the loss: one feeds an instance norm (which removes per-channel
    // shifts), the attention key bias shifts each softmax row by a constant. Their true gradient
    // is 0, so both backends return rounding noise there: check that it is tiny instead.
    const invariant = new Set(['down2.conv1.bias', 'attn.g.bias']);
    const scale = Math.max(...[...cpu.values()].map((v) => Math.max(...v.map(Math.abs))));
    for (const k of invariant) {
      for (const v of [cpu.get(k)!, wasm.get(k)!]) assert.ok(Math.max(...v.map(Math.abs)) < 1e-5 * scale, k);
    }
    const bad = [...cpu]
      .filter(([k]) => !invariant.has(k))
      .map(([k, v]) => [k, relativeError(wasm.get(k)!, v)] as const)
      .filter(([, e]) => !(e < 1e-3));
    assert.deepEqual(bad, [], 'parameters whose wasm gradient differs from cpu');
    for (const [k, v] of cpu) {
      if (!invariant.has(k))
        assert.ok(Math.max(...v.map(Math.abs)) > 1e-4 * scale, `no gradient reaches ${k}`);
    }
  });

  test('trains: L1 loss falls by more than half in 60 steps, tensor count flat over 50', () => {
    const t = makeProbeTrainer(CFG, 1, 3e-3);
    const x = batch(5, 4);
    const guard = new MemoryGuard(2);
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      losses.push(t.step(x));
      guard.check(i);
    }
    assert.ok(losses[59]! < 0.5 * losses[0]!, `loss ${losses[0]} -> ${losses[59]}`);
    t.dispose();
    x.dispose();
  });

  test('MemoryGuard catches a leaking step', () => {
    const guard = new MemoryGuard(1);
    const leaked: tf.Tensor[] = [];
    guard.check(0);
    leaked.push(tf.scalar(1));
    assert.throws(() => guard.check(1), TensorLeakError);
    tf.dispose(leaked);
  });

  test('deterministic: same seed, same losses', () => {
    const run = () => {
      const t = makeProbeTrainer(CFG, 9);
      const x = batch(2);
      const l = [t.step(x), t.step(x), t.step(x)];
      t.dispose();
      x.dispose();
      return l;
    };
    assert.deepEqual(run(), run());
  });
});

describe('checkpoints', () => {
  test('resume continues bit for bit; latest/prune see only complete checkpoints', () => {
    const dir = tempDir();
    const ck = join(dir, 'checkpoints');
    const x = batch(4);
    const a = makeProbeTrainer(CFG, 3);
    for (let i = 0; i < 3; i++) a.step(x);
    a.save(ck, 3);
    const uninterrupted = [a.step(x), a.step(x), a.step(x)];
    a.dispose();

    const { trainer: b, meta } = loadProbeTrainer(latestCheckpoint(ck)!);
    assert.equal(meta.step, 3);
    const resumed = [b.step(x), b.step(x), b.step(x)];
    assert.deepEqual(resumed, uninterrupted);
    b.save(ck, 6);
    b.save(ck, 6); // replacing an existing step is atomic too
    b.dispose();
    x.dispose();

    // An interrupted save (temporary directory) is invisible and gets cleaned up.
    cpSync(join(ck, 'step-00000006'), join(ck, '.step-00000009.tmp-1'), { recursive: true });
    assert.deepEqual(
      listCheckpoints(ck).map((c) => c.step),
      [3, 6],
    );
    pruneCheckpoints(ck, 1);
    assert.deepEqual(readdirSync(ck), ['step-00000006']);
  });

  test('truncated, corrupt, foreign and mismatched checkpoints give clear errors', () => {
    const dir = tempDir();
    const ck = join(dir, 'checkpoints');
    const t = makeProbeTrainer(CFG, 3);
    const good = t.save(ck, 1);
    t.dispose();
    const live = tf.memory().numTensors;
    const variant = (name: string, mutate: (d: string) => void) => {
      const d = join(dir, name);
      cpSync(good, d, { recursive: true });
      mutate(d);
      return d;
    };
    const expectError = (d: string, pattern: RegExp) =>
      assert.throws(
        () => loadProbeTrainer(d),
        (e: unknown) => e instanceof CheckpointError && pattern.test(e.message),
      );

    expectError(
      variant('trunc', (d) => truncateSync(join(d, 'tensors.safetensors'), 100)),
      /truncated or replaced/,
    );
    expectError(
      variant('flip', (d) => {
        const p = join(d, 'tensors.safetensors');
        const buf = readFileSync(p);
        buf[buf.length - 1]! ^= 0xff;
        writeFileSync(p, buf);
      }),
      /SHA-256/,
    );
    expectError(
      variant('nojson', (d) => writeFileSync(join(d, 'checkpoint.json'), '{oops')),
      /not valid JSON/,
    );
    expectError(
      variant('foreign', (d) =>
        writeFileSync(join(d, 'checkpoint.json'), JSON.stringify({ format: 'other' })),
      ),
      /not a neural-talking-heads\/checkpoint/,
    );
    expectError(
      variant('bigger', (d) => {
        const p = join(d, 'checkpoint.json');
        const meta = JSON.parse(readFileSync(p).toString('utf8'));
        meta.config.probe.channels = 8;
        writeFileSync(p, JSON.stringify(meta));
      }),
      /tensor "attn\.f\.bias" has shape \[1\], the model needs \[4\]|has shape/,
    );
    assert.throws(() => loadCheckpoint(join(dir, 'missing')), /checkpoint\.json is missing/);
    assert.equal(tf.memory().numTensors, live, 'failed loads must not leak tensors');
  });
});
