// Few-shot personalisation and animation (paper sec. 3.3) on a tiny model: the initialisation
// psi' = P e, w' = w0 + e; fine-tuning lowers the loss with flat memory; the personalised model file
// round-trips and refuses bad files; animation streams; every bad input gets a clear error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { animate } from '../src/animate/animate.js';
import { openDriver, type Driver, type DriverFrame } from '../src/animate/drivers.js';
import { openOutput, type FrameWriter } from '../src/animate/output.js';
import { checkOutput } from '../src/core/output.js';
import { runAnimate } from '../src/cli/animate.js';
import { runFineTune } from '../src/cli/finetune.js';
import { Dataset } from '../src/data/dataset.js';
import { framesFromDataset, framesFromPhotos } from '../src/data/fewshot.js';
import { InputError } from '../src/core/errors.js';
import { encodePng, readPng } from '../src/media/png.js';
import { writeSyntheticDataset } from '../src/synthetic/write.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { mediaTags, probe } from '../src/media/video.js';
import { ssim } from '../src/eval/metrics.js';
import { toRgb8 } from '../src/media/image.js';
import { readGifComments, readPngText } from '../src/media/provenance.js';
import { encodeSafetensors, decodeSafetensors } from '../src/io/safetensors.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { embedder, projectPsi } from '../src/models/networks.js';
import { powerIteration, spectralNorm } from '../src/models/blocks.js';
import { flatten, leaf, type ParamTree } from '../src/nn/params.js';
import {
  loadPersonalModel,
  ModelFileError,
  savePersonalModel,
  disposePersonal,
} from '../src/models/personal.js';
import { preset } from '../src/models/presets.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import {
  disposePersonalised,
  fewShotInit,
  fineTuneParams,
  framePairs,
  FineTuneConfigSchema,
  personalise,
} from '../src/train/finetune.js';
import { resolveMetaConfig } from '../src/train/meta.js';
import { initMetaParams } from '../src/train/meta_step.js';
import { disposeModel, loadMetaModel, saveModelFile } from '../src/train/model.js';
import { Run } from '../src/train/run.js';
import { tempDir } from './helpers/tmp.js';

const require = createRequire(import.meta.url);
const DEMO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const tmp = tempDir();
const data = join(tmp, 'ds');
let modelRun: string;

/** A meta-trained-model checkpoint of the tiny preset (weights at init: the API does not care). */
function writeTinyModel(root: string, preset_ = 'tiny'): string {
  const cfg = resolveMetaConfig(undefined, {
    data,
    preset: preset_,
    k: 2,
    lrEG: 2e-3,
    lrD: 2e-3,
    holdout: 0,
  });
  const init = initMetaParams(preset(preset_), 4, 5);
  const run = Run.create(root, 'meta-tiny', { command: 'meta-train', config: cfg });
  run.checkpoint(0, { params: init.params, sn: init.sn }, { config: cfg, state: { columns: [0, 1, 2, 3] } });
  run.close();
  tf.dispose([...flatten(init.params).values(), ...flatten(init.sn).values()]);
  return run.dir;
}

before(async () => {
  await initEngine({});
  await writeSyntheticDataset({
    out: data,
    identities: 3,
    sequences: 1,
    frames: 12,
    size: 32,
    seed: 4,
    frameStep: 2,
    firstIdentity: 0,
    workers: 1,
  });
  modelRun = writeTinyModel(join(tmp, 'runs'));
});

const cfg = (extra: Record<string, unknown> = {}) =>
  FineTuneConfigSchema.parse({ epochs: 2, batch: 4, ...extra });

describe('few-shot personalisation', () => {
  test("psi' = P e_NEW and w' = w0 + e_NEW exactly, and fine-tuning starts from them", () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 1, 4);
    const pairs = framePairs(frames, [0, 1, 2, 3], null);
    const init = fewShotInit(meta, pairs);
    // the same quantities by hand: normalised E over the T frames, mean, times P; w0 + e
    const [eHand, psiHand] = tf.tidy(() => {
      const { u, v } = powerIteration(meta.params, meta.sn, false);
      const n = spectralNorm(meta.params, u, v);
      const e = embedder(n['E'] as ParamTree, meta.net, pairs.xt, pairs.yt); // [T, N]
      const eMean = tf.div(tf.sum(e, 0, true), 4) as tf.Tensor2D;
      return [eMean, projectPsi(n['G'] as ParamTree, eMean)];
    });
    const w0 = leaf((meta.params['D'] as ParamTree)['proj'] as ParamTree, 'w0').dataSync();
    const e = init.eNew.dataSync();
    assert.ok(
      e.some((x) => x !== 0),
      'a non-zero embedding',
    );
    assert.deepEqual(
      Array.from(init.psi.dataSync()),
      Array.from(
        tf.matMul(init.eNew, leaf((meta.params['G'] as ParamTree)['proj'] as ParamTree, 'P')).dataSync(),
      ),
    );
    const wp = init.wPrime.dataSync();
    for (let i = 0; i < wp.length; i++) assert.equal(wp[i], Math.fround(w0[i]! + e[i]!));
    const close = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Array.from(a).every((x, i) => Math.abs(x - b[i]!) <= 1e-5 * (1 + Math.abs(x)));
    assert.ok(close(e, eHand.dataSync()), 'e_NEW is the mean of E over the T frames');
    assert.ok(close(init.psi.dataSync(), psiHand.dataSync()), "psi' = P e_NEW");
    const ft = fineTuneParams(meta, init.psi, init.wPrime);
    assert.deepEqual(
      Array.from(leaf(ft['G'] as ParamTree, 'psi').dataSync()),
      Array.from(init.psi.dataSync()),
    );
    assert.deepEqual(
      Array.from(leaf((ft['D'] as ParamTree)['proj'] as ParamTree, 'w').dataSync()),
      Array.from(init.wPrime.dataSync()),
    );
    assert.equal((ft['G'] as ParamTree)['proj'], undefined, 'P is not trained (psi is)');
    tf.dispose([
      eHand,
      psiHand,
      init.eNew,
      init.psi,
      init.wPrime,
      pairs.xt,
      pairs.yt,
      ...flatten(ft).values(),
    ]);
    disposeModel(meta);
  });

  test('fine-tuning lowers the loss on the T frames, with flat memory; the feed-forward mode trains nothing', async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 0, 4);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const ft = await personalise(meta, frames, cfg({ epochs: 15, lrG: 3e-3 }), null, {
      onStep: () => counts.push(tf.memory().numTensors),
    });
    assert.equal(ft.steps, 15);
    assert.ok(ft.l1After < ft.l1Before * 0.8, `pixel L1 ${ft.l1Before} -> ${ft.l1After}`);
    assert.equal(new Set(counts.slice(1)).size, 1, `live tensors across steps: ${counts.join(', ')}`);
    const ff = await personalise(meta, frames, cfg({ finetune: false }), null);
    assert.equal(ff.steps, 0);
    assert.equal(ff.model.info.mode, 'feed-forward');
    assert.equal(ff.l1After, ff.l1Before);
    for (const p of [ft, ff]) {
      disposePersonal(p.model);
      disposePersonalised(p);
    }
    assert.equal(tf.memory().numTensors, before, 'everything personalise made is disposed with it');
    disposeModel(meta);
  });

  test('fine-tuning is deterministic given the seed', async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 2, 5);
    const run = async (seed: number) => {
      const p = await personalise(meta, frames, cfg({ epochs: 2, batch: 2, seed }), null);
      const psi = Array.from(p.model.psi.dataSync());
      disposePersonal(p.model);
      disposePersonalised(p);
      return psi;
    };
    const a = await run(1);
    assert.deepEqual(await run(1), a);
    assert.notDeepEqual(await run(2), a, 'another seed, another batch order');
    disposeModel(meta);
  });

  test('fine-tuning on warped frames: deterministic, another model than without, every tensor freed', async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 2, 1);
    const before = tf.memory().numTensors;
    const run = async (warp: number) => {
      const p = await personalise(meta, frames, cfg({ epochs: 3, seed: 4, warp }), null);
      const psi = Array.from(p.model.psi.dataSync());
      assert.equal(p.stopped, 'done');
      disposePersonal(p.model);
      disposePersonalised(p);
      return psi;
    };
    const a = await run(1);
    assert.deepEqual(await run(1), a, 'the warps are drawn from the seed');
    assert.notDeepEqual(await run(0), a, 'the warped frames change what fine-tuning learns');
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => cfg({ warp: 1.5 }), /warp/);
    disposeModel(meta);
  });

  test("train 'psi': fine-tuning moves psi' and leaves G's weights as meta-learning left them; --d-steps", async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 1, 2);
    // G's weights and psi' after fine-tuning at a learning rate. Frozen weights still change
    // through spectral norm's power iteration, which does not depend on the learning rate.
    const tuned = async (train: 'all' | 'psi', lrG: number) => {
      const p = await personalise(meta, frames, cfg({ epochs: 3, lrG, train }), null);
      const G = [...flatten(p.model.G).values()].flatMap((t) => Array.from(t.dataSync()));
      const psi = Array.from(p.model.psi.dataSync());
      disposePersonal(p.model);
      disposePersonalised(p);
      return { G, psi };
    };
    const [a, b] = [await tuned('psi', 3e-3), await tuned('psi', 1e-2)];
    assert.deepEqual(a.G, b.G, "G's weights do not depend on the learning rate: they are not trained");
    assert.notDeepEqual(a.psi, b.psi, "psi' is");
    const [c, d] = [await tuned('all', 3e-3), await tuned('all', 1e-2)];
    assert.notDeepEqual(c.G, d.G, "train 'all' trains G's weights");
    assert.throws(() => cfg({ train: 'D' }), /train/);
    // --d-steps: one D update a step is another fine-tuning than the paper's two
    const one = await personalise(meta, frames, cfg({ epochs: 2, dSteps: 1 }), null);
    const two = await personalise(meta, frames, cfg({ epochs: 2, dSteps: 2 }), null);
    assert.notDeepEqual(Array.from(one.model.psi.dataSync()), Array.from(two.model.psi.dataSync()));
    for (const p of [one, two]) {
      disposePersonal(p.model);
      disposePersonalised(p);
    }
    assert.throws(() => cfg({ dSteps: 0 }), /dSteps/);
    disposeModel(meta);
  });

  test('the personalised model file round-trips and refuses other versions, presets and corrupt files', async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 2, 3);
    const p = await personalise(meta, frames, cfg({ finetune: false }), null);
    const path = join(tmp, 'p.safetensors');
    savePersonalModel(path, p.model);
    const back = loadPersonalModel(path);
    assert.equal(back.frames, 3);
    assert.equal(back.info.identity, frames.identity);
    assert.deepEqual(Array.from(back.psi.dataSync()), Array.from(p.model.psi.dataSync()));
    assert.deepEqual(Array.from(back.landmarks), Array.from(frames.landmarks));
    disposePersonal(back);
    const bytes = readFileSync(path);
    const dec = decodeSafetensors(bytes);
    const variant = (name: string, md: Record<string, string>, drop?: string) => {
      const f = join(tmp, name);
      const t = new Map(dec.tensors);
      if (drop) t.delete(drop);
      writeFileSync(f, encodeSafetensors(t, { ...dec.metadata, ...md }));
      return f;
    };
    const fails = (f: string, re: RegExp) =>
      assert.throws(
        () => loadPersonalModel(f),
        (e: Error) => e instanceof ModelFileError && re.test(e.message) && e.message.includes(f),
      );
    fails(variant('v3.safetensors', { version: '3' }), /format version 3/);
    fails(
      variant('small.safetensors', { net: JSON.stringify(preset('small')), preset: 'small' }),
      /psi tensor|is \[/,
    );
    fails(variant('nog.safetensors', {}, 'G.out.weight'), /"G.out.weight" is missing/);
    fails(variant('other.safetensors', { format: 'something/else' }), /not a personalised model/);
    const trunc = join(tmp, 'trunc.safetensors');
    writeFileSync(trunc, bytes.subarray(0, bytes.length - 100));
    fails(trunc, /corrupt or truncated/);
    fails(join(tmp, 'missing.safetensors'), /no such file/);
    disposePersonal(p.model);
    disposePersonalised(p);
    disposeModel(meta);
  });

  test('the model API checks what it loads: a file, a folder that is no model, a corrupt checkpoint', () => {
    assert.throws(() => loadMetaModel(join(tmp, 'nope')), /does not exist/);
    assert.throws(() => loadMetaModel(join(tmp, 'p.safetensors')), /it is a personalised model/);
    // one model file: weights and spectral-norm vectors, config and step in its header
    const meta = loadMetaModel(modelRun);
    const file = join(tmp, 'model.safetensors');
    saveModelFile(meta, file);
    const back = loadMetaModel(file);
    assert.equal(back.config.preset, 'tiny');
    assert.equal(back.columns, meta.columns);
    for (const [path, t] of flatten(meta.params))
      assert.deepEqual(
        Array.from(flatten(back.params).get(path)!.dataSync()),
        Array.from(t.dataSync()),
        path,
      );
    disposeModel(back);
    disposeModel(meta);
    writeFileSync(join(tmp, 'half.safetensors'), readFileSync(file).subarray(0, 5000));
    assert.throws(() => loadMetaModel(join(tmp, 'half.safetensors')), /corrupt or truncated/);
    mkdirSync(join(tmp, 'empty'), { recursive: true });
    assert.throws(() => loadMetaModel(join(tmp, 'empty')), /neither a run folder/);
    // a run whose only checkpoint is corrupt
    const run = writeTinyModel(join(tmp, 'runs-bad'));
    const ck = join(run, 'checkpoints', 'step-00000000', 'tensors.safetensors');
    const b = readFileSync(ck);
    b[b.length - 5] = b[b.length - 5]! ^ 0xff;
    writeFileSync(ck, b);
    assert.throws(() => loadMetaModel(run), /no intact checkpoint.*SHA-256/s);
    assert.ok(existsSync(ck), 'reading a model leaves the run folder as it is (only resume sets aside)');
  });

  test('a model file builds the network it stores; one from before that builds its preset', () => {
    const meta = loadMetaModel(modelRun);
    const file = join(tmp, 'self.safetensors');
    saveModelFile(meta, file);
    disposeModel(meta);
    const dec = decodeSafetensors(readFileSync(file));
    assert.deepEqual(JSON.parse(dec.metadata['network']!), preset('tiny'));
    // The presets "changed": the file's config now names another preset, its network is still tiny.
    const cfg = { ...JSON.parse(dec.metadata['config']!), preset: 'small' };
    const moved = join(tmp, 'moved.safetensors');
    writeFileSync(moved, encodeSafetensors(dec.tensors, { ...dec.metadata, config: JSON.stringify(cfg) }));
    const m = loadMetaModel(moved);
    assert.equal(m.net.resolution, 32);
    assert.deepEqual(m.net, preset('tiny'));
    disposeModel(m);
    // Without a stored network (files written before it was stored) the config's preset is built.
    const old = { ...dec.metadata };
    delete old['network'];
    const before = join(tmp, 'before.safetensors');
    writeFileSync(before, encodeSafetensors(dec.tensors, old));
    const o = loadMetaModel(before);
    assert.deepEqual(o.net, preset('tiny'));
    disposeModel(o);
    writeFileSync(before, encodeSafetensors(dec.tensors, { ...old, config: JSON.stringify(cfg) }));
    assert.throws(() => loadMetaModel(before), /preset small.*is \[|shape/s);
    // A stored network that is no network is refused by name.
    const bad = join(tmp, 'badnet.safetensors');
    writeFileSync(bad, encodeSafetensors(dec.tensors, { ...dec.metadata, network: '{"resolution": 3}' }));
    assert.throws(() => loadMetaModel(bad), /badnet.safetensors.*Invalid network config/);
  });

  test('a model file written before files stored their network (committed in test/fixtures) still loads', () => {
    const file = 'test/fixtures/model-before-network-tiny.safetensors';
    assert.equal(decodeSafetensors(readFileSync(file)).metadata['network'], undefined, 'an old file');
    const m = loadMetaModel(file);
    try {
      assert.deepEqual(m.net, preset('tiny'));
      assert.equal(m.step, 7);
      assert.equal(m.columns, 3);
    } finally {
      disposeModel(m);
    }
  });

  test('a model file in f16 or q8 is half or less the size and loads as float32 close to the original', async () => {
    const meta = loadMetaModel(modelRun);
    const f32 = join(tmp, 'store-f32.safetensors');
    saveModelFile(meta, f32);
    // the feed-forward frames of one person, scored against the real ones, from each file
    const frames = framesFromDataset(Dataset.open(data), 1, 4);
    const ffSsim = async (m: typeof meta) => {
      const p = await personalise(m, frames, cfg({ finetune: false }), null);
      const r = frames.resolution;
      const fb = r * r * 3;
      const out = p.feedForward.dataSync();
      let s = 0;
      for (let t = 0; t < frames.count; t++)
        s += ssim(toRgb8(out.subarray(t * fb, (t + 1) * fb), r, r), {
          width: r,
          height: r,
          data: frames.rgb.subarray(t * fb, (t + 1) * fb),
        });
      disposePersonal(p.model);
      disposePersonalised(p);
      return s / frames.count;
    };
    const reference = await ffSsim(meta);
    try {
      for (const storage of ['f16', 'q8'] as const) {
        const file = join(tmp, `store-${storage}.safetensors`);
        saveModelFile(meta, file, storage);
        const ratio = statSync(file).size / statSync(f32).size;
        assert.ok(ratio < (storage === 'f16' ? 0.55 : 0.45), `${storage}: ${ratio.toFixed(2)} of float32`);
        assert.equal(decodeSafetensors(readFileSync(file)).metadata['storage'], storage);
        const back = loadMetaModel(file);
        try {
          const s = await ffSsim(back);
          assert.ok(Math.abs(s - reference) <= 0.002, `${storage}: feed-forward SSIM ${s} vs ${reference}`);
          const orig = flatten(meta.params);
          for (const [k, t] of flatten(back.params)) {
            assert.equal(t.dtype, 'float32', k);
            const a = orig.get(k)!.dataSync() as Float32Array;
            const b = t.dataSync() as Float32Array;
            const max = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
            const q8 = storage === 'q8' && k.startsWith('D.') && t.shape.length === 4;
            // f16: relative 2^-11; 8 bits: half a step of the largest weight of the tensor
            const tol = q8 ? max / 127 / 2 + 1e-7 : max * 2 ** -11 + 1e-7;
            a.forEach((v, i) => assert.ok(Math.abs(b[i]! - v) <= tol, `${storage} ${k}[${i}]`));
          }
        } finally {
          disposeModel(back);
        }
      }
    } finally {
      disposeModel(meta);
    }
  });

  test('the model in models/ loads with every check (format, preset, shapes)', () => {
    const m = loadMetaModel('models/small-64px-ff.safetensors');
    assert.equal(m.config.preset, 'small');
    assert.equal(m.config.variant, 'ff');
    assert.equal(m.net.resolution, 64);
    assert.equal(m.step, 12000);
    assert.match(m.hash, /^[0-9a-f]{64}$/);
    disposeModel(m);
  });

  test('resume takes the newest intact checkpoint and says which it skipped', () => {
    const run = Run.open(writeTinyModel(join(tmp, 'runs-resume')), { log: (s) => said.push(s) });
    const said: string[] = [];
    const ck0 = loadCheckpoint(join(run.checkpointsDir, 'step-00000000'));
    run.checkpoint(5, ck0.trees, { config: ck0.meta.config });
    const newest = join(run.checkpointsDir, 'step-00000005', 'tensors.safetensors');
    writeFileSync(newest, readFileSync(newest).subarray(0, 1000));
    const got = run.latestIntact({ setAside: true });
    assert.equal(got?.meta.step, 0);
    assert.match(said.join('\n'), /newest intact checkpoint; skipped:\n.*step-00000005.*truncated/);
    assert.ok(existsSync(join(run.checkpointsDir, 'step-00000005.corrupt')), 'the corrupt one is set aside');
    assert.deepEqual(
      readdirSync(run.checkpointsDir).filter((d) => /^step-\d+$/.test(d)),
      ['step-00000000'],
      'only intact checkpoints are left for pruning and the next resume',
    );
    run.close();
    for (const t of [...Object.values(ck0.trees), ...Object.values(got!.trees)])
      tf.dispose([...flatten(t).values()]);
  });
});

/** A frame writer that keeps only counts (and the sizes it saw). */
function countingWriter(): FrameWriter & { frames: number; sizes: Set<string> } {
  const w = {
    frames: 0,
    sizes: new Set<string>(),
    write: async (f: { width: number; height: number }) => {
      w.frames++;
      w.sizes.add(`${f.width}x${f.height}`);
    },
    close: async () => {},
    abort: () => {},
  };
  return w;
}

describe('animation', () => {
  test('streams: a long driver never has more than a batch in flight, and memory stays flat', async () => {
    const meta = loadMetaModel(modelRun);
    const frames = framesFromDataset(Dataset.open(data), 0, 4);
    const p = await personalise(meta, frames, cfg({ finetune: false }), null);
    disposeModel(meta);
    const ds = Dataset.open(data);
    const n = 400;
    let yielded = 0;
    let maxAhead = 0;
    const writer = countingWriter();
    const tensors: number[] = [];
    const driver: Driver = {
      kind: 'landmarks',
      source: 'test',
      fps: 25,
      expectedFrames: n,
      audio: null,
      frames: (async function* (): AsyncGenerator<DriverFrame> {
        for (let i = 0; i < n; i++) {
          yielded++;
          maxAhead = Math.max(maxAhead, yielded - writer.frames);
          // every 7th frame without a face: the last pose is held
          yield {
            index: i,
            landmarks: i % 7 === 3 ? null : ds.frameLandmarks(1, i % 12).slice(),
            image: null,
          };
        }
      })(),
    };
    const report = await animate(p.model, driver, writer, {
      retarget: true,
      chunk: 8,
      neutralFrames: 10,
      sideBySide: true,
      onFrame: () => tensors.push(tf.memory().numTensors),
    });
    assert.equal(report.frames, n);
    assert.equal(writer.frames, n);
    assert.equal(report.noFace, Math.floor((n - 4) / 7) + 1);
    assert.ok(maxAhead <= 10 + 1 + 8 + 2, `driver frames read ahead of output: ${maxAhead}`);
    assert.equal(Math.max(...tensors), Math.min(...tensors), 'live tensors constant while animating');
    assert.deepEqual([...writer.sizes], [`${3 * 32}x32`], 'side by side: driver | landmarks | output');
    disposePersonal(p.model);
    disposePersonalised(p);
  });

  test('end to end: fine-tune from a dataset, animate to MP4, GIF and PNG frames; self-reenactment is not retargeted', async () => {
    const out = join(tmp, 'e2e');
    const model = join(out, 'person.safetensors');
    const said: string[] = [];
    const log = (s: string) => said.push(s);
    await runFineTune(
      {
        model: modelRun,
        data,
        videoIndex: 1,
        T: 4,
        out: model,
        finetune: true,
        epochs: 2,
        batch: 4,
        seed: 0,
        runs: join(out, 'runs'),
      },
      log,
    );
    assert.ok(existsSync(model) && existsSync(join(out, 'person.png')));
    assert.match(said.join('\n'), /fine-tuned, 2 steps/);
    assert.match(
      readPngText(readFileSync(join(out, 'person.png')))['Comment'] ?? '',
      /^SYNTHETIC: .*person\.safetensors: fine-tuned/,
      'the sheet says it holds generated frames',
    );
    const again = {
      model: modelRun,
      data,
      videoIndex: 1,
      T: 4,
      out: model,
      finetune: false,
      epochs: 1,
      batch: 4,
      seed: 0,
      runs: join(out, 'runs'),
    };
    await assert.rejects(runFineTune(again, log), /already exists.*--force/);
    await runFineTune({ ...again, force: true }, log);
    assert.match(said.join('\n'), /feed-forward, 0 steps/);
    const mp4 = join(out, 'a.mp4');
    await runAnimate({ model, driver: data, driverVideo: 2, out: mp4, sideBySide: true }, log);
    const info = probe(mp4);
    assert.equal(info.width, 96);
    // every output says it is synthetic and which model made it
    assert.match(
      mediaTags(mp4)['comment'] ?? '',
      /^SYNTHETIC: generated by neural-talking-heads \(model person\.safetensors: /,
    );
    assert.match(said.join('\n'), /12 frames.*retargeted onto the model face/);
    await runAnimate({ model, driver: data, driverVideo: 1, out: join(out, 'a.gif') }, log);
    assert.match(said.at(-1)!, /used as they are/, 'the same identity drives itself with raw landmarks');
    assert.match(
      readGifComments(readFileSync(join(out, 'a.gif')))[0] ?? '',
      /^SYNTHETIC: .*person\.safetensors/,
    );
    // outputs by what they are: every video container ffmpeg writes here, tagged; others refused
    for (const ext of ['.mov', '.mkv', '.webm', '.avi']) {
      const f = join(out, `a${ext}`);
      await runAnimate({ model, driver: data, driverVideo: 1, out: f }, log);
      assert.ok(statSync(f).isFile(), `${ext}: a video file, not a folder of frames`);
      assert.equal(probe(f).width, 32, ext);
      assert.match(mediaTags(f)['comment'] ?? '', /^SYNTHETIC: /, `${ext}: tagged`);
    }
    await assert.rejects(
      runAnimate({ model, driver: data, out: join(out, 'clip.xyz') }, log),
      /"\.xyz" is not an output animate writes.*\.mp4 \.mov \.mkv \.avi \.webm.*\.gif/,
    );
    assert.ok(!existsSync(join(out, 'clip.xyz')), 'nothing written for a refused output');
    // a landmark track (JSON, in pixels of a 64px frame) to PNG frames
    const ds = Dataset.open(data);
    const track = {
      size: 64,
      fps: 10,
      frames: [0, 1, 2].map((f) =>
        Array.from({ length: 68 }, (_, i) => [
          2 * ds.frameLandmarks(0, f)[2 * i]!,
          2 * ds.frameLandmarks(0, f)[2 * i + 1]!,
        ]),
      ),
    };
    writeFileSync(join(out, 'track.json'), JSON.stringify(track));
    await runAnimate({ model, driver: join(out, 'track.json'), out: join(out, 'frames'), scale: 3 }, log);
    const frame2 = readFileSync(join(out, 'frames', 'frame-00002.png'));
    assert.equal(readPng(frame2).width, 3 * 32, '--scale 3');
    assert.match(readPngText(frame2)['Comment'] ?? '', /^SYNTHETIC: .*(fine-tuned|feed-forward)/);
    // --watermark: the same frames with a visible mark in the corner
    await runAnimate(
      { model, driver: join(out, 'track.json'), out: join(out, 'marked'), scale: 3, watermark: true },
      log,
    );
    const marked = readPng(readFileSync(join(out, 'marked', 'frame-00002.png')));
    assert.deepEqual(marked.data.subarray(0, 96 * 3 * 40), readPng(frame2).data.subarray(0, 96 * 3 * 40));
    assert.notDeepEqual(marked.data, readPng(frame2).data);
    assert.deepEqual(readdirSync(join(out, 'frames')), [
      'frame-00000.png',
      'frame-00001.png',
      'frame-00002.png',
    ]);
    assert.equal(readdirSync(out).filter((f) => f.includes('.tmp-')).length, 0, 'no temporary files left');
    // a photo drives a still, with its landmarks as they are
    await runAnimate({ model, driver: join(DEMO, 'sample1.jpg'), out: join(out, 'still') }, log);
    assert.deepEqual(readdirSync(join(out, 'still')), ['frame-00000.png']);
    assert.match(said.at(-1)!, /1 frames.*used as they are/);
    // an existing output needs --force
    await assert.rejects(runAnimate({ model, driver: data, out: mp4 }, log), /already exists.*--force/);
    await runAnimate({ model, driver: data, driverVideo: 0, out: mp4, force: true }, log);
  });
});

test("an MP4 keeps the driver's audio track; frames stream in under a temporary name", async () => {
  const ff = findFfmpeg()!.path;
  const wav = join(tmp, 'tone.wav');
  spawnSync(ff, ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', wav]);
  const mp4 = join(tmp, 'with-audio.mp4');
  const w = openOutput(mp4, { fps: 10, audio: wav });
  for (let i = 0; i < 10; i++)
    await w.write({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(i * 20) });
  assert.ok(!existsSync(mp4), 'nothing at the final name before close');
  await w.close();
  const streams = spawnSync(ff, ['-hide_banner', '-i', mp4], { encoding: 'utf8' }).stderr;
  assert.match(streams, /Video: h264/);
  assert.match(streams, /Audio: aac/);
});

describe('bad input', () => {
  test('a photo with no face, a face index that does not exist, fewer photos than T', async () => {
    const dir = join(tmp, 'photos');
    mkdirSync(dir, { recursive: true });
    cpSync(join(DEMO, 'sample1.jpg'), join(dir, 'a.jpg'));
    const noise = new Uint8Array(96 * 96 * 3).map((_, i) => (i * 7919) % 251);
    writeFileSync(join(dir, 'b.png'), encodePng({ width: 96, height: 96, data: noise }));
    await assert.rejects(
      framesFromPhotos(dir, 32),
      (e: Error) => e instanceof InputError && /No face found in ".*b\.png"/.test(e.message),
    );
    const one = join(tmp, 'photos1');
    mkdirSync(one, { recursive: true });
    cpSync(join(DEMO, 'sample1.jpg'), join(one, 'a.jpg'));
    await assert.rejects(framesFromPhotos(one, 32, { face: 9 }), /--face 9 does not exist/);
    const f = await framesFromPhotos(one, 32);
    assert.equal(f.count, 1);
    await assert.rejects(
      runFineTune(
        {
          model: modelRun,
          videoIndex: 0,
          photos: one,
          T: 3,
          out: join(tmp, 'x.safetensors'),
          finetune: false,
          epochs: 1,
          batch: 1,
          seed: 0,
          runs: join(tmp, 'r'),
        },
        () => {},
      ),
      /1 photo\(s\) with a face, fewer than -T 3/,
    );
  });

  test('T larger than a video has frames, a driver with no face, an output path that cannot be written', async () => {
    assert.throws(() => framesFromDataset(Dataset.open(data), 0, 12), /-T 12 must be smaller/);
    const meta = loadMetaModel(modelRun);
    const p = await personalise(
      meta,
      framesFromDataset(Dataset.open(data), 0, 2),
      cfg({ finetune: false }),
      null,
    );
    disposeModel(meta);
    const faceless: Driver = {
      kind: 'video',
      source: 'blank.mp4',
      fps: 25,
      expectedFrames: 3,
      audio: null,
      frames: (async function* () {
        for (let i = 0; i < 3; i++) yield { index: i, landmarks: null, image: null };
      })(),
    };
    await assert.rejects(
      animate(p.model, faceless, countingWriter()),
      /"blank.mp4" has no frame with a face \(3 frame/,
    );
    disposePersonal(p.model);
    disposePersonalised(p);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    assert.throws(
      () => checkOutput(join(file, 'out.mp4'), false, false),
      /Cannot write ".*out.mp4": its folder .* is not writable \(ENOTDIR|EEXIST/,
    );
    assert.throws(() => openDriver(join(tmp, 'no-such.mp4'), { resolution: 32 }), /does not exist/);
    writeFileSync(join(tmp, 'bad.json'), '{"frames": [[[1, 2]]]}');
    assert.throws(
      () => openDriver(join(tmp, 'bad.json'), { resolution: 32 }),
      /frame 0 has 1 points, not 68/,
    );
    await assert.rejects(
      runFineTune(
        {
          model: modelRun,
          videoIndex: 0,
          data,
          T: 2,
          out: join(tmp, 'm.bin'),
          finetune: false,
          epochs: 1,
          batch: 1,
          seed: 0,
          runs: tmp,
        },
        () => {},
      ),
      /one \.safetensors file/,
    );
  });
});
