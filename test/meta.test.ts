// Networks and meta-learning (issue: networks and meta-learning): parameter counts of the paper
// preset, shapes at every preset, gradient flow, memory, learning, resume, no target leak, configs.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Dataset } from '../src/data/dataset.js';
import { EpisodeSampler } from '../src/data/episodes.js';
import { initEngine } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import { initSpectral, powerIteration, spectralNorm } from '../src/models/blocks.js';
import { countParams, disposeTree, flatten, type ParamTree } from '../src/nn/params.js';
import {
  discriminator,
  embedder,
  generator,
  initDiscriminator,
  initEmbedder,
  initGenerator,
  projectPsi,
  psiSize,
} from '../src/models/networks.js';
import { PRESETS, preset } from '../src/models/presets.js';
import { latestCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import { MemoryGuard } from '../src/train/loop.js';
import { advScale, metaTrain, resolveMetaConfig } from '../src/train/meta.js';
import { PAPER_WEIGHTS, type LossWeights } from '../src/train/losses.js';
import { initMetaParams, MetaTrainer, type MetaBatch } from '../src/train/meta_step.js';
import { unreachableBias } from './helpers/params.js';
import { writeTinyDataset } from './helpers/data.js';
import { tempDir } from './helpers/tmp.js';

const data = join(tempDir(), 'ds');
before(async () => {
  await initEngine({});
  await writeTinyDataset(data);
});

/** The tiny preset, K = 2, fast optimiser settings: the trainer most tests here need. */
function tinyTrainer(ds: Dataset, weights: LossWeights = PAPER_WEIGHTS): MetaTrainer {
  const c = preset('tiny');
  return new MetaTrainer(
    c,
    2,
    weights,
    { lrEG: 1e-3, lrD: 1e-3, beta1: 0, beta2: 0.9, dSteps: 1 },
    initMetaParams(c, ds.numVideos, 1),
  );
}

function batchFrom(ds: Dataset, k: number, b: number, seed: number): MetaBatch {
  const e = new EpisodeSampler(ds, k, seed).next(b);
  return { xk: e.xk, yk: e.yk, xt: e.xt, yt: e.yt, column: e.video };
}
const disposeBatch = (b: MetaBatch) => tf.dispose([b.xk, b.yk, b.xt, b.yt, b.column]);
const cfgFor = (out: string, extra: Record<string, unknown> = {}) =>
  resolveMetaConfig(undefined, {
    data,
    preset: 'tiny',
    k: 2,
    batch: 2,
    steps: 4,
    out,
    holdout: 0,
    sampleEvery: 1000,
    checkpointEvery: 1000,
    logEvery: 1,
    ...extra,
  });

describe('networks', () => {
  test('paper preset parameter counts match the paper within 5% (E ~15M, G ~38M, D ~20M)', () => {
    const c = preset('paper');
    const live = tf.memory().numTensors;
    let counts: number[] = [];
    tf.tidy(() => {
      const e = initEmbedder(c, new Rng(1));
      const g = initGenerator(c, new Rng(2));
      const d = initDiscriminator(c, 1, new Rng(3));
      counts = [countParams(e), countParams(g), countParams(d) - 2 * c.embedding - 1];
    });
    const [e, g, d] = counts as [number, number, number];
    assert.ok(Math.abs(e / 15e6 - 1) < 0.05, `E has ${e}`);
    assert.ok(Math.abs(g / 38e6 - 1) < 0.05, `G has ${g}`);
    assert.ok(Math.abs(d / 20e6 - 1) < 0.05, `D (V) has ${d}`);
    assert.equal(psiSize(c), 13184, 'about 13k AdaIN parameters (sec. 3.4)');
    assert.equal(tf.memory().numTensors, live);
  });

  for (const name of Object.keys(PRESETS).filter((n) => n !== 'paper')) {
    test(`shapes at preset ${name}`, () => {
      const c = preset(name);
      const r = c.resolution;
      tf.tidy(() => {
        const rng = new Rng(4);
        const x = tf.randomUniform([2, r, r, 3], -1, 1) as tf.Tensor4D;
        const e = embedder(initEmbedder(c, rng), c, x, x);
        assert.deepEqual(e.shape, [2, c.embedding]);
        const g = initGenerator(c, rng);
        const psi = projectPsi(g, e);
        assert.deepEqual(psi.shape, [2, psiSize(c)]);
        const y = generator(g, c, x, psi);
        assert.deepEqual(y.shape, [2, r, r, 3]);
        const yv = y.dataSync();
        // closed interval: in float32, tanh(x) rounds to exactly +-1 once |x| > ~9, and these
        // un-normalised random weights (no spectral norm here) can reach that
        assert.ok(
          yv.every((v) => v >= -1 && v <= 1),
          'tanh output',
        );
        const d = discriminator(initDiscriminator(c, 5, rng), c, y, x, tf.tensor1d([0, 4], 'int32'));
        // a discriminator for a single training video works too (its only column for every episode)
        const d1 = discriminator(initDiscriminator(c, 1, rng), c, y, x, tf.tensor1d([0, 0], 'int32'));
        assert.deepEqual(d1.score.shape, [2]);
        assert.deepEqual(d.score.shape, [2]);
        assert.equal(d.features.length, c.downChannels.length + 1);
        assert.deepEqual(d.features[d.features.length - 1]!.shape, [
          2,
          4,
          4,
          c.downChannels[c.downChannels.length - 1],
        ]);
      });
    });
  }

  test('bad configs and inputs are refused with clear errors', () => {
    assert.throws(() => preset('huge'), /Unknown preset "huge"/);
    assert.throws(
      () => resolveMetaConfig(undefined, { data, preset: 'tiny', k: 0 }),
      /Invalid config at "k"/,
    );
    assert.throws(() => resolveMetaConfig(undefined, { data, colour: 'blue' }), /Invalid config/);
    const bad = join(tempDir(), 'c.yaml');
    writeFileSync(bad, 'steps: [1,');
    assert.throws(() => resolveMetaConfig(bad, {}), /does not parse/);
    const good = join(tempDir(), 'c.yaml');
    writeFileSync(good, `data: ${data}\npreset: tiny\nk: 3\nvariant: ff\n`);
    const c = resolveMetaConfig(good, { k: 2 });
    assert.equal(c.k, 2, 'flags override the file');
    assert.equal(c.weights.mch, 0, 'the FF variant has no L_MCH');
    const tiny = preset('tiny');
    assert.throws(
      () =>
        embedder(
          tf.tidy(() => initEmbedder(tiny, new Rng(1))),
          tiny,
          tf.zeros([1, 16, 16, 3]) as tf.Tensor4D,
          tf.zeros([1, 16, 16, 3]) as tf.Tensor4D,
        ),
      /embedder frames: expected shape \[B, 32, 32, 3\]/,
    );
  });

  test('spectral norm: sigma from power iteration approaches the largest singular value', () => {
    tf.tidy(() => {
      // W = diag(3, 2, 1) padded: its spectral norm is 3
      const w = tf.tensor2d([3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0], [4, 3]);
      const params: ParamTree = { weight: w };
      let sn = initSpectral(params, new Rng(2));
      let v: ParamTree = {};
      for (let i = 0; i < 30; i++) ({ u: sn, v } = powerIteration(params, sn));
      const normed = flatten(spectralNorm(params, sn, v)).get('weight')!;
      assert.ok(Math.abs(normed.dataSync()[0]! - 1) < 1e-3, `W/sigma has top value ${normed.dataSync()[0]}`);
    });
  });
});

describe('meta-learning', () => {
  test('gradients reach every parameter; memory is flat over 50 steps', async () => {
    const ds = Dataset.open(data);
    const trainer = tinyTrainer(ds);
    const before = new Map([...flatten(trainer.params)].map(([k, t]) => [k, t.dataSync().slice()]));
    const guard = new MemoryGuard(2);
    for (let i = 0; i < 50; i++) {
      const b = batchFrom(ds, 2, 2, i);
      await trainer.step(b);
      disposeBatch(b);
      guard.check(i);
    }
    // Every parameter moved, except biases no gradient can reach (they feed an instance norm, or
    // shift every attention logit of a row equally).
    const frozen = [...flatten(trainer.params)]
      .filter(([k, t]) => {
        const a = before.get(k)!;
        const b = t.dataSync();
        return a.every((x, i) => x === b[i]);
      })
      .map(([k]) => k);
    assert.deepEqual(
      frozen.filter((k) => !unreachableBias(k)),
      [],
      'parameters that never changed',
    );
    trainer.dispose();
  });

  test('the identity and perceptual content terms (face-api networks) are computed and weighted when enabled', async () => {
    const ds = Dataset.open(data);
    const trainer = tinyTrainer(ds, { ...PAPER_WEIGHTS, identity: 1, perceptual: 0.5 });
    const b = batchFrom(ds, 2, 2, 1);
    const m = await trainer.step(b);
    assert.ok(Number.isFinite(m['identity']) && m['identity']! > 0, `identity term ${m['identity']}`);
    assert.ok(Number.isFinite(m['perceptual']) && m['perceptual']! > 0, `perceptual term ${m['perceptual']}`);
    const expected =
      10 * m['pixel']! + m['adv']! + 10 * m['fm']! + 80 * m['mch']! + m['identity']! + 0.5 * m['perceptual']!;
    assert.ok(
      Math.abs(m['lossEG']! - expected) < 1e-3 * Math.abs(expected),
      `lossEG ${m['lossEG']} vs sum of weighted terms ${expected}`,
    );
    // the warm-up's scale multiplies the weights of L_ADV (adv, fm) and L_MCH, and nothing else
    const b2 = batchFrom(ds, 2, 2, 2);
    const m2 = await trainer.step(b2, 0.25);
    assert.ok(m2['eAlive']! >= 0 && m2['eAlive']! <= 1, `share of live embedding entries ${m2['eAlive']}`);
    const expected2 =
      10 * m2['pixel']! +
      0.25 * (m2['adv']! + 10 * m2['fm']! + 80 * m2['mch']!) +
      m2['identity']! +
      0.5 * m2['perceptual']!;
    assert.ok(
      Math.abs(m2['lossEG']! - expected2) < 1e-3 * Math.abs(expected2),
      `lossEG ${m2['lossEG']} vs warm-up weighted sum ${expected2}`,
    );
    disposeBatch(b);
    disposeBatch(b2);
    trainer.dispose();
  });

  test('adversarial warm-up schedule: off, then a linear ramp, then full', () => {
    assert.deepEqual(
      [1, 100, 101, 150, 200, 201, 5000].map((s) => advScale(s, 100)),
      [0, 0, 0.01, 0.5, 1, 1, 1],
    );
    assert.equal(advScale(1, 0), 1, 'no warm-up: the paper schedule');
  });

  test('the target frame never reaches the embedder: G output ignores x_t', () => {
    const ds = Dataset.open(data);
    const trainer = tinyTrainer(ds);
    const b = batchFrom(ds, 2, 2, 5);
    const a = trainer.generate(b);
    const other = { ...b, xt: tf.randomUniform(b.xt.shape, -1, 1) as tf.Tensor4D };
    const a2 = trainer.generate(other);
    assert.deepEqual(a.dataSync(), a2.dataSync());
    const moved = trainer.generate({ ...b, xk: tf.reverse(b.xk, 0) as tf.Tensor4D });
    assert.notDeepEqual(moved.dataSync(), a.dataSync(), 'the K frames do matter');
    tf.dispose([a, a2, moved, other.xt]);
    disposeBatch(b);
    trainer.dispose();
  });

  test('a tiny model reduces its reconstruction loss over 200 steps', async () => {
    const out = tempDir();
    const pixel: number[] = [];
    const res = await metaTrain(
      cfgFor(out, { steps: 200, lrEG: 1e-3, lrD: 1e-3, beta1: 0.5, seed: 2 }),
      undefined,
      {
        log: () => {},
        onStep: (_s, _t, m) => pixel.push(m['pixel']!),
      },
    );
    assert.equal(res.stopped, 'done');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(pixel.slice(0, 20));
    const last = mean(pixel.slice(-20));
    assert.ok(last < 0.85 * first, `pixel L1 ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    const files = readdirSync(res.dir);
    for (const f of ['config.json', 'metrics.jsonl', 'samples', 'checkpoints'])
      assert.ok(files.includes(f), `run folder has ${f}`);
    assert.ok(
      files.some((f) => f.startsWith('events.out.tfevents')),
      'TensorBoard events',
    );
  });

  test('resume after an interruption continues bit for bit', async () => {
    const a = tempDir();
    const straight = await metaTrain(cfgFor(a, { steps: 6 }), undefined, { log: () => {} });
    const b = tempDir();
    const first = await metaTrain(cfgFor(b, { steps: 6 }), undefined, {
      log: () => {},
      shouldStop: (s) => s === 3,
    });
    assert.equal(first.stopped, 'interrupted');
    assert.equal(first.step, 3);
    const resumed = await metaTrain(cfgFor(b, { steps: 6 }), first.dir, { log: () => {} });
    assert.equal(resumed.step, 6);
    const losses = (m: Record<string, number> | null) =>
      Object.fromEntries(Object.entries(m!).filter(([k]) => k !== 'secondsPerStep'));
    assert.deepEqual(losses(resumed.last), losses(straight.last), 'same losses at the last step');
    const pa = loadCheckpoint(latestCheckpoint(join(straight.dir, 'checkpoints'))!);
    const pb = loadCheckpoint(latestCheckpoint(join(resumed.dir, 'checkpoints'))!);
    const fa = flatten(pa.trees['params']!);
    const fb = flatten(pb.trees['params']!);
    for (const [k, t] of fa) assert.deepEqual(t.dataSync(), fb.get(k)!.dataSync(), `parameter ${k}`);
    for (const c of [pa, pb]) for (const t of Object.values(c.trees)) disposeTree(t);
  });

  test('a diverging run stops cleanly on NaN and keeps its last good checkpoint', async () => {
    const out = tempDir();
    const res = await metaTrain(
      cfgFor(out, { steps: 40, lrEG: 1e8, lrD: 1e8, checkpointEvery: 1 }),
      undefined,
      { log: () => {} },
    );
    assert.equal(res.stopped, 'nan');
    const ck = loadCheckpoint(latestCheckpoint(join(res.dir, 'checkpoints'))!);
    assert.ok(ck.meta.step <= res.step);
    for (const t of flatten(ck.trees['params']!).values())
      assert.ok(t.dataSync().every(Number.isFinite), 'checkpoint is finite');
    for (const t of Object.values(ck.trees)) disposeTree(t);
  });
});
