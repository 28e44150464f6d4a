// Issue 21: a generator that blends in the person's own frame warped to the target's landmarks
// (models/networks.ts `sourceWarp`, data/source_warp.ts, docs/design.md sec. 3.5): its maths, its
// gradients, meta-learning from a model without it (--init widens G), episodes, fine-tuning, the
// personalised model file and animation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { renderFrames } from '../src/animate/animate.js';
import { toUnit } from '../src/core/units.js';
import { Dataset } from '../src/data/dataset.js';
import { disposeEpisode, EpisodeSampler } from '../src/data/episodes.js';
import { framesFromDataset } from '../src/data/fewshot.js';
import { warpFrame } from '../src/data/source_warp.js';
import { initEngine } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import { innerMouthMask, landmarkSet, mouthMask } from '../src/faces/landmarks.js';
import { mouthL1 } from '../src/train/losses.js';
import { initSpectral } from '../src/models/blocks.js';
import {
  decoderParts,
  generator,
  generatorEncoder,
  discriminator,
  embedder,
  generatorParts,
  initDiscriminator,
  initEmbedder,
  initGenerator,
  psiSize,
  widenForSkips,
  widenForSourceWarp,
} from '../src/models/networks.js';
import {
  decodePersonalModel,
  disposePersonal,
  encodePersonalModel,
  ModelFileError,
  withoutProjection,
} from '../src/models/personal.js';
import { checkNetConfig, preset } from '../src/models/presets.js';
import { encodeSafetensors, decodeSafetensors } from '../src/io/safetensors.js';
import { disposeTree, flatten, leaf, subtree, type ParamTree } from '../src/nn/params.js';
import {
  ANCHOR_DEFAULT,
  anchorSet,
  anchorWeight,
  disposePersonalised,
  FineTuneConfigSchema,
  normalisedMeta,
  personalise,
  sourceFramesOf,
} from '../src/train/finetune.js';
import { metaTrain, resolveMetaConfig } from '../src/train/meta.js';
import { disposeModel, loadMetaModel } from '../src/train/model.js';
import { writeSyntheticDataset } from '../src/synthetic/write.js';
import type { Tensor4 } from '../src/nn/layers.js';
import { writeTinyDataset } from './helpers/data.js';
import { tempDir } from './helpers/tmp.js';

const tiny = preset('tiny');
const tinyWarp = checkNetConfig({ ...tiny, sourceWarp: true });
const tinySkips = checkNetConfig({ ...tiny, sourceWarp: true, skips: true });
const R = tiny.resolution;
const data = join(tempDir(), 'ds');

/** [b, R, R, 3] uniform in [-1, 1) */
const uniform = (rng: Rng, b: number) =>
  tf.tensor4d(
    Array.from({ length: b * R * R * 3 }, () => rng.next() * 2 - 1),
    [b, R, R, 3],
  );

before(async () => {
  await initEngine({});
  await writeTinyDataset(data);
});

describe('generator with a source warp', () => {
  test('widened from a generator without one, it is half that generator and half the warp', () => {
    const rng = new Rng(5);
    const G = initGenerator(tiny, rng.fork());
    const sn = initSpectral({ G }, rng.fork())['G'] as ParamTree;
    const wide = widenForSourceWarp(G, sn);
    const y = uniform(rng, 2);
    const w = uniform(rng, 2);
    const psi = tf.tensor2d(rng.normalArray(2 * psiSize(tiny), 0.1), [2, psiSize(tiny)]);
    const narrow = generator(G, tiny, y, psi);
    const blended = generator(wide.G, tinyWarp, y, psi, {}, w);
    const expect = tf.add(tf.mul(narrow, 0.5), tf.mul(w, 0.5));
    const diff = tf.max(tf.abs(tf.sub(blended, expect))).dataSync()[0]!;
    assert.ok(diff < 1e-5, `largest difference ${diff}`);
    // its parts: the drawing is the narrow generator's frame, the mask one half everywhere
    tf.tidy(() => {
      const parts = generatorParts(wide.G, tinyWarp, y, psi, {}, w);
      const maxAbs = (t: tf.Tensor) => tf.max(tf.abs(t)).dataSync()[0]!;
      assert.ok(maxAbs(tf.sub(parts.drawn!, narrow)) < 1e-5);
      assert.deepEqual(parts.mask!.shape, [2, R, R, 1]);
      assert.ok(maxAbs(tf.sub(parts.mask!, 0.5)) < 1e-6);
      assert.equal(maxAbs(tf.sub(parts.x, blended)), 0);
      assert.equal(generatorParts(G, tiny, y, psi).drawn, undefined);
    });
    // the same leaves and shapes a network built with a source warp has
    const fresh = initGenerator(tinyWarp, new Rng(0));
    const shapes = (t: ParamTree) => [...flatten(t)].map(([k, v]) => `${k}:${v.shape.join('x')}`);
    assert.deepEqual(shapes(wide.G), shapes(fresh));
    assert.deepEqual(shapes(wide.sn), shapes(initSpectral({ G: fresh }, new Rng(0))['G'] as ParamTree));
    assert.throws(() => generator(wide.G, tinyWarp, y, psi), /give the warped frames/);
    tf.dispose([y, w, psi, narrow, blended, expect]);
    [G, sn, wide.G, wide.sn, fresh].forEach(disposeTree);
  });

  test('gradients of every parameter and of the warp match finite differences', () => {
    const rng = new Rng(9);
    const full = initGenerator(tinyWarp, rng.fork());
    const G = withoutProjection(full); // psi is given: P is not on the path
    const y = uniform(rng, 1);
    const w = uniform(rng, 1);
    const psi = tf.tensor2d(rng.normalArray(psiSize(tinyWarp), 0.1), [1, psiSize(tinyWarp)]);
    const target = uniform(rng, 1);
    const names = [...flatten(G).keys()];
    const loss = (leaves: tf.Tensor[], warp: tf.Tensor) => {
      const tree = new Map(names.map((n, i) => [n, leaves[i]!]));
      const p: ParamTree = {};
      for (const [k, v] of tree) {
        const parts = k.split('.');
        let node = p as Record<string, unknown>;
        for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
        node[parts[parts.length - 1]!] = v;
      }
      return tf.mean(
        tf.square(tf.sub(generator(p, tinyWarp, y, psi, {}, warp as tf.Tensor4D), target)),
      ) as tf.Scalar;
    };
    const leaves = [...flatten(G).values()];
    const grads = tf.grads((...xs: tf.Tensor[]) => loss(xs.slice(0, -1), xs[xs.length - 1]!))([...leaves, w]);
    // the mask channel, the warp's input weights and the warp itself, by central differences
    const checks: [number, number][] = [
      [names.indexOf('out.bias'), 3], // the mask's bias
      [names.indexOf('enc0.conv1.weight'), 5], // [9, 9, 6, 8]: index 5 is input channel 5 (the warp's)
      [leaves.length, 100], // a pixel of the warp
    ];
    const all = [...leaves, w];
    for (const [t, i] of checks) {
      assert.ok(t >= 0);
      const base = all[t]!.dataSync().slice();
      const at = (d: number) => {
        const v = base.slice();
        v[i]! += d;
        const moved = tf.tensor(v, all[t]!.shape);
        const xs = all.map((x, j) => (j === t ? moved : x));
        const l = loss(xs.slice(0, -1), xs[xs.length - 1]!).dataSync()[0]!;
        moved.dispose();
        return l;
      };
      const h = 1e-2;
      const numeric = (at(h) - at(-h)) / (2 * h);
      const analytic = grads[t]!.dataSync()[i]!;
      assert.ok(
        Math.abs(numeric - analytic) <= 1e-3 + 0.05 * Math.abs(numeric),
        `${t < leaves.length ? names[t] : 'warp'}[${i}]: ${analytic} vs ${numeric}`,
      );
    }
    // every parameter gets a gradient (but attention's inner convs: its gain starts at 0, as in SAGAN)
    grads.slice(0, -1).forEach((g, i) => {
      if (/Attn\./.test(names[i]!)) return;
      assert.ok(tf.max(tf.abs(g)).dataSync()[0]! > 0, `${names[i]}: no gradient`);
    });
    tf.dispose([y, w, psi, target, ...grads]);
    disposeTree(full);
  });
});

describe('generator with skips', () => {
  test('given skips, a source-warp generator makes the same frames, and its skips then learn', () => {
    assert.throws(() => checkNetConfig({ ...tiny, skips: true }), /need sourceWarp/);
    const rng = new Rng(11);
    const G = initGenerator(tinyWarp, rng.fork());
    const sn = initSpectral({ G }, rng.fork())['G'] as ParamTree;
    const wide = widenForSkips(G, sn, tinySkips, rng.fork());
    const y = uniform(rng, 2);
    const w = uniform(rng, 2);
    const psi = tf.tensor2d(rng.normalArray(2 * psiSize(tiny), 0.1), [2, psiSize(tiny)]);
    tf.tidy(() => {
      const maxAbs = (t: tf.Tensor) => tf.max(tf.abs(t)).dataSync()[0]!;
      const before = generatorParts(withoutProjection(G), tinyWarp, y, psi, {}, w);
      const after = generatorParts(withoutProjection(wide.G), tinySkips, y, psi, {}, w);
      assert.ok(maxAbs(tf.sub(before.x, after.x)) < 1e-6, 'zero skips change the frame');
      assert.ok(maxAbs(tf.sub(before.mask!, after.mask!)) < 1e-6);
    });
    // the leaves a network built with skips has, and spectral-norm vectors for each weight
    const fresh = initGenerator(tinySkips, new Rng(0));
    const shapes = (t: ParamTree) => [...flatten(t)].map(([k, v]) => `${k}:${v.shape.join('x')}`).sort();
    assert.deepEqual(shapes(wide.G), shapes(fresh));
    assert.deepEqual(shapes(wide.sn), shapes(initSpectral({ G: fresh }, new Rng(0))['G'] as ParamTree));
    assert.ok(shapes(fresh).includes('skip0.gamma:16'), shapes(fresh).join(' '));
    // the skip's gain and the last conv's warp inputs get gradients, checked by central differences
    const Gp = withoutProjection(wide.G);
    const target = uniform(rng, 2);
    const names = ['skip0.gamma', 'out.weight'];
    const loss = (gamma: tf.Tensor, outW: tf.Tensor) => {
      const p: ParamTree = {
        ...Gp,
        skip0: { ...(Gp['skip0'] as ParamTree), gamma },
        out: { ...(Gp['out'] as ParamTree), weight: outW },
      };
      return tf.mean(tf.abs(tf.sub(generator(p, tinySkips, y, psi, {}, w), target))) as tf.Scalar;
    };
    const leaves = names.map((n) => flatten(Gp).get(n)!);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => loss(a, b))(leaves);
    // out.weight [3, 3, 8 + 3, 4]: index 9 is input channel 9 (the warp's green) to output 1
    const checks: [number, number][] = [
      [0, 3],
      [1, 9 * 4 + 1],
    ];
    for (const [t, i] of checks) {
      const base = leaves[t]!.dataSync().slice();
      const at = (d: number) =>
        tf.tidy(() => {
          const v = base.slice();
          v[i]! += d;
          const moved = tf.tensor(v, leaves[t]!.shape);
          return (t === 0 ? loss(moved, leaves[1]!) : loss(leaves[0]!, moved)).dataSync()[0]!;
        });
      const h = 1e-2;
      const numeric = (at(h) - at(-h)) / (2 * h);
      const analytic = grads[t]!.dataSync()[i]!;
      assert.ok(Math.abs(analytic) > 1e-6, `${names[t]}[${i}]: no gradient`);
      assert.ok(
        Math.abs(numeric - analytic) <= 1e-3 + 0.05 * Math.abs(numeric),
        `${names[t]}[${i}]: ${analytic} vs ${numeric}`,
      );
    }
    tf.dispose([y, w, psi, target, ...grads]);
    [G, sn, wide.G, wide.sn, fresh].forEach(disposeTree);
  });
});

test('the inner mouth mask: inside the inner lip (60-67) and its half-pixel margin, a line for a closed mouth', () => {
  const S = 64;
  const lm = new Float32Array(136).fill(10);
  // an open inner lip: an octagon of radius 4 around (32, 44)
  for (let i = 0; i < 8; i++) {
    lm[2 * (60 + i)] = 32 + 4 * Math.cos((2 * Math.PI * i) / 8);
    lm[2 * (60 + i) + 1] = 44 + 4 * Math.sin((2 * Math.PI * i) / 8);
  }
  const m = innerMouthMask(lm, S);
  const area = m.reduce((a, v) => a + v, 0);
  // between the octagon's area (~45 px) and a circle of radius 4.5 (~64 px)
  assert.ok(area > 40 && area < 64, `area ${area}`);
  assert.equal(m[44 * S + 32], 1);
  assert.equal(m[44 * S + 38], 0);
  // a closed mouth: upper and lower inner lip on one line, 8 px wide: only the margin's pixels, the
  // two rows of pixel centres half a pixel above and below it
  for (let i = 0; i < 8; i++) {
    lm[2 * (60 + i)] = 28 + (i < 5 ? i * 2 : (8 - i) * 2);
    lm[2 * (60 + i) + 1] = 44;
  }
  assert.ok(innerMouthMask(lm, S).reduce((a, v) => a + v, 0) <= 2 * 9);
});

describe('the mouth-region loss', () => {
  test('the mask fills the outer lip and its margin; the loss is L1 over the region alone', () => {
    // a 68-point set whose outer lip (48-59) is a 12-gon of radius 6 around (32, 44)
    const lm = new Float32Array(136).fill(10);
    for (let i = 0; i < 12; i++) {
      lm[2 * (48 + i)] = 32 + 6 * Math.cos((2 * Math.PI * i) / 12);
      lm[2 * (48 + i) + 1] = 44 + 6 * Math.sin((2 * Math.PI * i) / 12);
    }
    const S = 64;
    const m = mouthMask(lm, S);
    const at = (x: number, y: number) => m[y * S + x]!;
    assert.equal(at(32, 44), 1);
    assert.equal(at(37, 44), 1); // inside, near the edge
    assert.equal(at(38, 44), 1); // outside the 12-gon by < 1 px: the margin
    assert.equal(at(40, 44), 0);
    assert.equal(at(32, 30), 0);
    const area = m.reduce((a, v) => a + v, 0);
    // between the 12-gon's area (~94 px) and a circle of radius 6 + 1 (~154 px)
    assert.ok(area > 94 && area < 154, `area ${area}`);
    // L1 inside the region only, averaged over its pixels and channels
    const real = tf.zeros([1, S, S, 3]) as tf.Tensor4D;
    const fake = tf.fill([1, S, S, 3], 0.5) as tf.Tensor4D;
    const mask = tf.tensor4d(m, [1, S, S, 1]);
    assert.ok(Math.abs(mouthL1(real, fake, mask).dataSync()[0]! - 0.5) < 1e-6);
    const outside = tf.tensor4d(
      Float32Array.from({ length: S * S * 3 }, (_, i) => (m[Math.floor(i / 3)] ? 0 : 0.9)),
      [1, S, S, 3],
    );
    assert.ok(mouthL1(real, outside, mask).dataSync()[0]! < 1e-6);
    tf.dispose([real, fake, mask, outside]);
  });
});

describe('meta-learning, fine-tuning and animation with a source warp', () => {
  test('episodes carry each target its nearest K frame warped onto it', () => {
    const ds = Dataset.open(data);
    const s = new EpisodeSampler(ds, 2, 1, undefined, { sourceWarp: true });
    const plan = {
      videos: [0, 3],
      kFrames: [
        [1, 5],
        [2, 7],
      ],
      targets: [4, 0],
    };
    const ep = s.load(plan);
    assert.ok(ep.wt);
    assert.deepEqual(ep.wt.shape, [2, R, R, 3]);
    const wt = ep.wt.dataSync();
    plan.videos.forEach((v, e) => {
      const t = ds.frameLandmarks(v, plan.targets[e]!);
      const dist = (f: number) => ds.frameLandmarks(v, f).reduce((a, x, i) => a + (x - t[i]!) ** 2, 0);
      const f = plan.kFrames[e]!.reduce((a, b) => (dist(b) < dist(a) ? b : a));
      const want = toUnit(warpFrame(ds.readFrames(v, f, 1).slice(), ds.frameLandmarks(v, f), t, R));
      const got = wt.subarray(e * R * R * 3, (e + 1) * R * R * 3);
      want.forEach((x, i) => assert.ok(Math.abs(x - got[i]!) < 1e-6));
    });
    disposeEpisode(ep);
    const plain = new EpisodeSampler(ds, 2, 1).load(plan);
    assert.equal(plain.wt, null);
    assert.equal(plain.mt, null);
    disposeEpisode(plain);
    // the mouth regions, when the loss asks for them
    const withMouth = new EpisodeSampler(ds, 2, 1, undefined, { mouth: true }).load(plan);
    assert.deepEqual(withMouth.mt?.shape, [2, R, R, 1]);
    assert.deepEqual(
      Array.from(withMouth.mt!.dataSync().subarray(R * R)),
      Array.from(mouthMask(ds.frameLandmarks(3, 0), R)),
    );
    disposeEpisode(withMouth);
  });

  test('--init from a model without it; fine-tune and feed-forward; the model file carries the frames', async () => {
    const cfg = (out: string, extra: Record<string, unknown>) =>
      resolveMetaConfig(undefined, {
        data,
        preset: 'tiny',
        variant: 'ff',
        k: 2,
        batch: 2,
        steps: 2,
        out,
        sampleEvery: 2,
        checkpointEvery: 1000,
        logEvery: 1,
        ...extra,
      });
    const narrow = await metaTrain(cfg(tempDir(), {}), undefined, { log: () => {} });
    const logs: string[] = [];
    const res = await metaTrain(
      cfg(tempDir(), {
        init: narrow.dir,
        net: { sourceWarp: true },
        weights: { mouth: 3, drawn: 5, drawnArea: 1 },
      }),
      undefined,
      { log: (s) => logs.push(s) },
    );
    assert.equal(res.stopped, 'done');
    // the mouth-region term is computed and logged
    const metrics = readFileSync(join(res.dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(metrics[metrics.length - 1]!) as Record<string, number>;
    assert.ok(last['mouth']! > 0);
    // and the L1 on G's drawing before the warp is blended in
    assert.ok(last['drawn']! > 0);
    // and the drawn share of the frame, 1 - mean mask
    assert.ok(last['drawnArea']! > 0 && last['drawnArea']! < 1);
    assert.ok(logs.some((l) => /G widened/.test(l)));
    const saved = JSON.parse(readFileSync(join(res.dir, 'config.json'), 'utf8')) as {
      network: { sourceWarp: boolean };
    };
    assert.equal(saved.network.sourceWarp, true);
    // and not the other way round: a model with a warp cannot start a run without one
    await assert.rejects(
      metaTrain(cfg(tempDir(), { init: res.dir }), undefined, { log: () => {} }),
      /with a source warp.*use the model's network/,
    );

    // skips: a source-warp model continues with them (zero gain: the same frames at first); the
    // personalised model file carries the network, and animation runs it
    const skipLogs: string[] = [];
    const skipped = await metaTrain(
      cfg(tempDir(), { init: res.dir, net: { sourceWarp: true, skips: true } }),
      undefined,
      { log: (l) => skipLogs.push(l) },
    );
    assert.ok(
      skipLogs.some((l) => /without skips: G given them/.test(l)),
      skipLogs.join('\n'),
    );
    await assert.rejects(
      metaTrain(cfg(tempDir(), { init: skipped.dir, net: { sourceWarp: true } }), undefined, {
        log: () => {},
      }),
      /and skips\), this run is .*use the model's network/,
    );
    const withSkips = loadMetaModel(skipped.dir);
    assert.equal(withSkips.net.skips, true);
    {
      const before = tf.memory().numTensors;
      const frames = framesFromDataset(Dataset.open(data), 2, 2);
      const p = await personalise(withSkips, frames, FineTuneConfigSchema.parse({ epochs: 1 }), null);
      const back = decodePersonalModel(encodePersonalModel(p.model), 'skips.safetensors');
      const lms = [landmarkSet(frames.landmarks, 1)];
      assert.deepEqual(renderFrames(back, lms)[0]!.data, renderFrames(p.model, lms)[0]!.data);
      disposePersonal(back);
      disposePersonal(p.model);
      disposePersonalised(p);
      assert.equal(tf.memory().numTensors, before, 'tensors left (skips)');
    }
    disposeModel(withSkips);

    const meta = loadMetaModel(res.dir);
    assert.equal(meta.net.sourceWarp, true);
    const frames = framesFromDataset(Dataset.open(data), 2, 3);
    for (const finetune of [false, true]) {
      const before = tf.memory().numTensors;
      const p = await personalise(meta, frames, FineTuneConfigSchema.parse({ epochs: 2, finetune }), null);
      assert.equal(p.model.sources?.length, 3 * R * R * 3);
      // the file carries the given frames; one without them is refused
      const bytes = encodePersonalModel(p.model);
      const back = decodePersonalModel(bytes, 'person.safetensors');
      assert.deepEqual(back.sources, p.model.sources);
      const lms = [landmarkSet(frames.landmarks, 0), landmarkSet(frames.landmarks, 2)];
      const a = renderFrames(p.model, lms);
      const b = renderFrames(back, lms);
      assert.deepEqual(a[1]!.data, b[1]!.data);
      const dec = decodeSafetensors(bytes, 'x');
      const without = new Map([...dec.tensors].filter(([k]) => k !== 'sources'));
      assert.throws(
        () => decodePersonalModel(encodeSafetensors(without, dec.metadata), 'nosrc.safetensors'),
        (e: Error) => e instanceof ModelFileError && /"sources" is missing/.test(e.message),
      );
      disposePersonal(back);
      disposePersonal(p.model);
      disposePersonalised(p);
      assert.equal(tf.memory().numTensors, before, `tensors left (finetune ${finetune})`);
    }

    // --hold-mask: at T = 1 the frame's source warp is its own pixels; held, the mask's own weights
    // (the logit channel's bias of G's last convolution: spectral norm leaves biases alone) get no
    // gradient from it, where without it they do
    const one = framesFromDataset(Dataset.open(data), 2, 1);
    const maskBias = async (holdMask: boolean) => {
      const before = tf.memory().numTensors;
      const p = await personalise(
        meta,
        one,
        FineTuneConfigSchema.parse({ epochs: 3, holdMask, anchor: 0 }),
        null,
      );
      const bias = leaf((p.model.G as ParamTree)['out'] as ParamTree, 'bias').dataSync()[3]!;
      disposePersonal(p.model);
      disposePersonalised(p);
      assert.equal(tf.memory().numTensors, before, `tensors left (holdMask ${holdMask})`);
      return bias;
    };
    const meta0 = leaf((meta.params['G'] as ParamTree)['out'] as ParamTree, 'bias').dataSync()[3]!;
    assert.equal(await maskBias(true), meta0, 'held: the mask logit bias is as meta-learned');
    assert.notEqual(await maskBias(false), meta0, 'fitted: the exact warp trains the mask');

    // --anchor: fine-tuned on one frame, G' stays nearer the feed-forward G' on the expressions the
    // frame does not show (the anchor set) than without it; the term is logged; no tensors left
    const ff = await personalise(meta, one, FineTuneConfigSchema.parse({ finetune: false }), null);
    const set = anchorSet(one, sourceFramesOf(one), ff.model.G, meta.net, ff.model.psi);
    const drift = async (anchor: number) => {
      const before = tf.memory().numTensors;
      const p = await personalise(meta, one, FineTuneConfigSchema.parse({ epochs: 12, anchor }), null);
      if (anchor > 0) assert.ok(p.last!['anchor']! >= 0 && Number.isFinite(p.last!['anchor']!));
      else assert.equal(p.last!['anchor'], undefined);
      const d = tf.tidy(() => {
        const x = generator(
          p.model.G,
          meta.net,
          set.yt,
          tf.tile(p.model.psi, [set.yt.shape[0], 1]) as tf.Tensor2D,
          {},
          set.wt,
        );
        return tf.mean(tf.abs(tf.sub(x, set.xt))).dataSync()[0]!;
      });
      disposePersonal(p.model);
      disposePersonalised(p);
      assert.equal(tf.memory().numTensors, before, `tensors left (anchor ${anchor})`);
      return d;
    };
    const free = await drift(0);
    const anchored = await drift(100);
    assert.ok(anchored < free * 0.8, `anchored ${anchored} vs free ${free}`);
    tf.dispose([set.yt, set.wt!, set.xt]);
    disposePersonal(ff.model);
    disposePersonalised(ff);

    // the anchor is on by default for a source-warp model given one frame, and only then
    assert.equal(anchorWeight(undefined, meta.net, 1), ANCHOR_DEFAULT);
    assert.equal(anchorWeight(undefined, meta.net, 3), 0);
    assert.equal(anchorWeight(undefined, { ...meta.net, sourceWarp: false, skips: false }, 1), 0);
    assert.equal(anchorWeight(0, meta.net, 1), 0);
    assert.equal(anchorWeight(5, meta.net, 3), 5);
    for (const [given, on] of [
      [one, true],
      [frames, false],
    ] as const) {
      const p = await personalise(meta, given, FineTuneConfigSchema.parse({ epochs: 1 }), null);
      assert.equal(p.last!['anchor'] !== undefined, on, `anchor term at T = ${given.count}`);
      disposePersonal(p.model);
      disposePersonalised(p);
    }

    // train 'decoder' (the default): the encoder and the residual blocks keep their meta-learned
    // weights, the decoder trains. The encoder's outputs for the given frames are computed once, with
    // the feed-forward G's encoder, which the fine-tuned model carries: bit for bit the feed-forward
    // model's. The residual blocks stay in the step (psi' reaches them), where spectral norm's power
    // iteration moves their normalised form a little, the same way whatever trains: bit for bit as
    // out of fine-tuning psi' alone. The decoder's weights differ from both.
    assert.deepEqual(decoderParts(meta.net), ['up0', 'up1', 'decAttn', 'out']);
    assert.deepEqual(decoderParts(tinySkips), ['up0', 'up1', 'decAttn', 'skip0', 'out']);
    const weightsAfter = async (train: 'decoder' | 'psi' | 'all') => {
      const before = tf.memory().numTensors;
      const p = await personalise(meta, frames, FineTuneConfigSchema.parse({ epochs: 2, train }), null);
      const at = (k: string) => Array.from(leaf(subtree(p.model.G, `${k}.conv1`), 'weight').dataSync());
      const out = { enc0: at('enc0'), res0: at('res0'), up0: at('up0') };
      disposePersonal(p.model);
      disposePersonalised(p);
      assert.equal(tf.memory().numTensors, before, `tensors left (train ${train})`);
      return out;
    };
    const [dec, psiOnly, all] = [
      await weightsAfter('decoder'),
      await weightsAfter('psi'),
      await weightsAfter('all'),
    ];
    const ffT = await personalise(meta, frames, FineTuneConfigSchema.parse({ finetune: false }), null);
    const ffEnc0 = Array.from(leaf(subtree(ffT.model.G, 'enc0.conv1'), 'weight').dataSync());
    disposePersonal(ffT.model);
    disposePersonalised(ffT);
    assert.deepEqual(dec.enc0, ffEnc0, 'the encoder trained');
    assert.deepEqual(dec.res0, psiOnly.res0, 'the residual blocks trained');
    assert.notDeepEqual(dec.up0, psiOnly.up0, 'the decoder did not train');
    assert.notDeepEqual(all.enc0, ffEnc0, "'all' left the encoder as it was");
    // its held outputs give what the encoder computes in the pass (the anchor set's too: above)
    tf.tidy(() => {
      const G = normalisedMeta(meta)['G'] as ParamTree;
      const psi = tf.zeros([2, psiSize(meta.net)]) as tf.Tensor2D;
      const y = tf.randomUniform([2, R, R, 3], -1, 1, 'float32', 3) as Tensor4;
      const w = tf.randomUniform([2, R, R, 3], -1, 1, 'float32', 4) as Tensor4;
      const held = generatorEncoder(G, meta.net, y, {}, w);
      const a = generator(G, meta.net, y, psi, {}, w).dataSync();
      const b = generator(G, meta.net, y, psi, {}, w, held).dataSync();
      assert.deepEqual(Array.from(a), Array.from(b));
      assert.throws(() => generator(G, meta.net, y, psi, {}, w, held.slice(1)), /encoder outputs/);
    });

    disposeModel(meta);
  });
});

describe('a generator grown to twice the resolution (embedResolution)', () => {
  test('E and D see the frames pooled to what they saw; --init grows a model, never shrinks it', async () => {
    assert.throws(() => checkNetConfig({ ...tiny, resolution: 64, embedResolution: 48 }), /halved/);
    assert.throws(() => checkNetConfig({ ...tiny, embedResolution: 64 }), /halved/);
    assert.throws(() => checkNetConfig({ ...tiny, resolution: 64 }), /4x4/);
    const grown = checkNetConfig({ ...tinySkips, resolution: 2 * R, embedResolution: R });
    const rng = new Rng(9);
    const E = initEmbedder(tinySkips, rng.fork());
    const D = initDiscriminator(tinySkips, 3, rng.fork());
    const G = initGenerator(tinySkips, rng.fork());
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const big = (b: number) =>
        tf.tensor4d(
          Array.from({ length: b * 4 * R * R * 3 }, () => rng.next() * 2 - 1),
          [b, 2 * R, 2 * R, 3],
        );
      const [x, y, w] = [big(2), big(2), big(2)];
      const pool = (t: Tensor4) => tf.avgPool(t, 2, 2, 'valid') as Tensor4;
      const video = tf.tensor1d([0, 2], 'int32');
      const near = (a: tf.Tensor, b: tf.Tensor, what: string) => {
        const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
        assert.ok(d < 1e-5, `${what}: ${d}`);
      };
      near(embedder(E, grown, x, y), embedder(E, tinySkips, pool(x), pool(y)), 'embedding');
      const dGrown = discriminator(D, grown, x, y, video);
      const dSeen = discriminator(D, tinySkips, pool(x), pool(y), video);
      near(dGrown.score, dSeen.score, 'realism score');
      dGrown.features.forEach((f, i) => near(f, dSeen.features[i]!, `D feature ${i}`));
      // G runs its convolutions at the new size with the same weights
      const psi = tf.tensor2d(rng.normalArray(2 * psiSize(tinySkips), 0.1), [2, psiSize(tinySkips)]);
      const frame = generator(G, grown, y, psi, {}, w);
      assert.deepEqual(frame.shape, [2, 2 * R, 2 * R, 3]);
      assert.ok(frame.dataSync().every(Number.isFinite));
      assert.throws(() => generator(G, grown, pool(y), psi, {}, pool(w)), /landmark images/);
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors left');
    disposeTree(E);
    disposeTree(D);
    disposeTree(G);

    // meta-train --init: a 32 px model starts a 64 px run whose E and D see 32 px
    const data64 = join(tempDir(), 'ds64');
    await writeSyntheticDataset({
      out: data64,
      identities: 3,
      sequences: 1,
      frames: 4,
      size: 2 * R,
      seed: 4,
      frameStep: 3,
      firstIdentity: 0,
      workers: 1,
    });
    const cfg = (d: string, extra: Record<string, unknown>) =>
      resolveMetaConfig(undefined, {
        data: d,
        preset: 'tiny',
        variant: 'ff',
        k: 2,
        batch: 2,
        steps: 1,
        out: tempDir(),
        sampleEvery: 1000,
        checkpointEvery: 1000,
        logEvery: 1,
        net: { sourceWarp: true, skips: true },
        ...extra,
      });
    const small = await metaTrain(cfg(data, {}), undefined, { log: () => {} });
    const logs: string[] = [];
    const up = { resolution: 2 * R, embedResolution: R, sourceWarp: true, skips: true };
    const res = await metaTrain(cfg(data64, { init: small.dir, net: up }), undefined, {
      log: (l) => logs.push(l),
    });
    assert.equal(res.stopped, 'done');
    assert.ok(
      logs.some((l) => /G grown to 64px/.test(l)),
      logs.join('\n'),
    );
    const saved = JSON.parse(readFileSync(join(res.dir, 'config.json'), 'utf8')) as {
      network: { resolution: number; embedResolution: number };
    };
    assert.deepEqual([saved.network.resolution, saved.network.embedResolution], [2 * R, R]);
    // and back down: refused, by name
    await assert.rejects(
      metaTrain(cfg(data, { init: res.dir }), undefined, { log: () => {} }),
      /64px.*this run is tiny \(32px.*use the model's network/,
    );
  });
});
