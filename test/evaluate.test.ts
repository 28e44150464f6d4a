// Evaluation (issue 12): `compare` on images and videos, the protocol's frame choice, the tables from
// unit results, and a small `evaluate` run end to end on the shipped model (resumed on a rerun).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { writePng } from '../src/media/png.js';
import { closeUpClip } from '../src/synthetic/clips.js';
import { encodeVideo } from '../src/media/video.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { compareMedia, compareTable } from '../src/eval/compare.js';
import { protocolFrames, runEvaluate } from '../src/eval/evaluate.js';
import { summarise, table1 } from '../src/eval/tables.js';
import { EVAL_METHODS, type UnitResult } from '../src/eval/units.js';
import { untrainedModel } from '../src/eval/heldout.js';
import { ArcFace } from '../src/pretrained/arcface.js';
import { InceptionV3 } from '../src/pretrained/inception.js';
import { proceduralTestSet } from '../src/eval/evaluate.js';
import { rankDrivers, rankTable } from '../src/eval/rank.js';
import { framesFromDatasetAt } from '../src/data/fewshot.js';
import { disposePersonal } from '../src/models/personal.js';
import { disposePersonalised, FineTuneConfigSchema, personalise } from '../src/train/finetune.js';
import { DEFAULT_MODEL, disposeModel, loadMetaModel } from '../src/train/model.js';
import { tempDir } from './helpers/tmp.js';
import { buildProgram } from '../src/cli/main.js';
import { Rng } from '../src/engine/rng.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { arcfaceWeights, pytorchFidWeights } from './helpers/weights.js';

before(async () => {
  await initEngine();
});

describe('compare', () => {
  test('identical frames: SSIM 1, PSNR infinite, CSIM 1; a changed one scores lower; sizes must match', async () => {
    const clip = closeUpClip(3, 1, 6, 96);
    const dir = tempDir();
    const a = join(dir, 'a.png');
    const b = join(dir, 'b.png');
    writePng(a, { width: 96, height: 96, data: clip.frames[0]! });
    writePng(b, { width: 96, height: 96, data: clip.frames[0]! });
    const same = await compareMedia(a, b);
    assert.equal(same.frames.length, 1);
    assert.ok(Math.abs(same.mean.ssim - 1) < 1e-9 && same.mean.psnr === Infinity);
    assert.ok(Math.abs(same.mean.csim - 1) < 1e-5, `CSIM ${same.mean.csim}`);
    const noisy = clip.frames[0]!.map((v, i) => Math.max(0, Math.min(255, v + ((i * 7919) % 41) - 20)));
    writePng(b, { width: 96, height: 96, data: noisy });
    const diff = await compareMedia(a, b);
    assert.ok(diff.mean.ssim < 0.9 && diff.mean.psnr < 40 && diff.mean.csim < 1);
    assert.match(compareTable(diff, true), /mean\s+0\.\d{4}/);
    writePng(b, { width: 64, height: 96, data: new Uint8Array(64 * 96 * 3) });
    await assert.rejects(compareMedia(a, b), /96x96 .* 64x96: compare needs the same size/);
  });

  test('videos frame by frame; different lengths compare the common frames and say so', async () => {
    const clip = closeUpClip(3, 1, 6, 96);
    const dir = tempDir();
    await encodeVideo(join(dir, 'a.mp4'), clip.frames, 96, 96);
    await encodeVideo(join(dir, 'b.mp4'), clip.frames.slice(0, 4), 96, 96);
    const r = await compareMedia(join(dir, 'a.mp4'), join(dir, 'b.mp4'));
    assert.equal(r.frames.length, 4);
    assert.match(r.note!, /6 frames and .* 4: the first 4 were compared/);
    assert.ok(
      r.frames.every((f) => f.ssim > 0.95),
      'the same frames, through the same codec',
    );
  });
});

describe('evaluation protocol', () => {
  test('T frames and hold-out frames are disjoint and inside the video', () => {
    for (const T of [1, 8, 32]) {
      const { train, hold } = protocolFrames(70, T, 32);
      assert.equal(train.length, T);
      assert.equal(hold.length, 32);
      assert.ok(train.every((f) => f >= 0 && f < 38 && !hold.includes(f)));
      assert.deepEqual(
        hold,
        Array.from({ length: 32 }, (_, i) => 38 + i),
      );
      assert.equal(new Set(train).size, T);
    }
    assert.throws(() => protocolFrames(40, 32, 32), /need 64/);
  });

  test('tables: a row per method and T, the paper beside FF and FT', () => {
    const unit = (T: number, shift: number): UnitResult => {
      const d = (k: number) =>
        Array.from({ length: 4 }, (_, i) => Array.from({ length: 3 }, (_, j) => i + j * k + shift));
      const m = (s: number) => ({ ssim: s, psnr: 20 * s, csim: s, descriptors: d(1 + s) });
      return {
        video: `v${shift}`,
        identity: `id${shift}`,
        T,
        trainFrames: [],
        evalFrames: [],
        methods: { untrained: m(0.1), copy: m(0.5), 'feed-forward': m(0.6), 'fine-tuned': m(0.8) },
        realDescriptors: d(1.9),
        seconds: { feedForward: 0.1, fineTune: 10, generatorPerFrame: 0.004 },
        fineTuneSteps: 40,
      };
    };
    const rows = summarise([unit(1, 0), unit(1, 1), unit(8, 0)], [1, 8]);
    assert.equal(rows.length, 2 * EVAL_METHODS.length);
    const ft1 = rows.find((r) => r.method === 'fine-tuned' && r.T === 1)!;
    assert.equal(ft1.videos, 2);
    assert.ok(Math.abs(ft1.ssim - 0.8) < 1e-12);
    // fine-tuned descriptors (scale 1.8) are closer to the real ones (1.9) than untrained (1.1)
    const un1 = rows.find((r) => r.method === 'untrained' && r.T === 1)!;
    assert.ok(ft1.fd < un1.fd, `FD ${ft1.fd} vs ${un1.fd}`);
    const t = table1(rows, 'title');
    assert.match(t, /fine-tuned\s+1 .*\|\s+48\.5\s+0\.64\s+0\.35\s+0\.46/);
    assert.match(t, /FD-faceapi/);
    assert.match(t, /CSIM-faceapi/);
  });

  test('evaluate end to end on the shipped model: tables, files, resumed on a rerun, no tensors left', async () => {
    const meta = loadMetaModel(DEFAULT_MODEL);
    const untrained = untrainedModel(meta);
    const out = tempDir();
    const o = {
      data: null,
      out,
      videos: 2,
      Ts: [1, 2],
      frames: 4,
      finetune: { batch: 2 },
      maxSteps: 2,
      seed: 0,
    };
    try {
      const before = tf.memory().numTensors;
      const seen: boolean[] = [];
      const r = await runEvaluate(meta, untrained, o, 'test', (_d, _t, _u, resumed) => seen.push(resumed));
      assert.equal(tf.memory().numTensors, before, 'tensors left behind');
      assert.deepEqual(seen, [false, false, false, false]);
      assert.equal(r.rows.length, 2 * EVAL_METHODS.length);
      assert.match(r.table1, /feed-forward\s+1/);
      assert.ok(existsSync(r.json) && r.sheets.length === 2 && r.sheets.every(existsSync));
      const json = JSON.parse(readFileSync(r.json, 'utf8')) as {
        metrics: { fd: string; csim: string };
        fineTuning: Record<string, { train: string; anchor: number; batch: number }>;
      };
      assert.deepEqual(json.metrics, { fd: 'FD-faceapi', csim: 'CSIM-faceapi' });
      // the recipe the options resolved to, per T (the procedural model has no source warp: no anchor)
      assert.deepEqual(Object.keys(json.fineTuning), ['T1', 'T2']);
      assert.deepEqual(
        [json.fineTuning['T1']!.train, json.fineTuning['T1']!.anchor, json.fineTuning['T1']!.batch],
        ['decoder', 0, 2],
      );
      for (const u of r.units)
        assert.ok(u.fineTuneSteps <= 2 && u.methods['fine-tuned'].descriptors.length === 4);
      const again: boolean[] = [];
      const r2 = await runEvaluate(meta, untrained, o, 'test', (_d, _t, _u, resumed) => again.push(resumed));
      assert.deepEqual(again, [true, true, true, true], 'a rerun resumes every (video, T)');
      assert.deepEqual(r2.rows, r.rows);
    } finally {
      disposeModel(untrained);
      disposeModel(meta);
    }
  });
});

describe('FID with Inception-v3, CSIM with ArcFace', () => {
  test('with Inception-v3 and ArcFace (random weights here) the table gains FID and CSIM columns; features kept per unit', async () => {
    const meta = loadMetaModel(DEFAULT_MODEL);
    const untrained = untrainedModel(meta);
    const inception = InceptionV3.random(0);
    const arcface = ArcFace.random(50, 0);
    const out = tempDir();
    try {
      const o = {
        data: null,
        out,
        videos: 1,
        Ts: [1],
        frames: 4,
        finetune: {},
        maxSteps: 1,
        seed: 0,
        inception,
        arcface,
      };
      const r = await runEvaluate(meta, untrained, o, 'test');
      assert.ok(r.rows.every((row) => row.fid !== undefined && Number.isFinite(row.fid)));
      assert.match(r.table1, /method\s+T\s+FID\s+FD-faceapi.*CSIM-faceapi\s+CSIM\s+\|/);
      assert.ok(r.rows.every((row) => row.csimArcface !== undefined && Math.abs(row.csimArcface) <= 1));
      // a rerun without the network still reads the kept features
      const again = await runEvaluate(meta, untrained, { ...o, inception: null, arcface: null }, 'test');
      assert.deepEqual(
        again.rows.map((x) => x.fid),
        r.rows.map((x) => x.fid),
      );
    } finally {
      arcface.dispose();
      inception.dispose();
      disposeModel(untrained);
      disposeModel(meta);
    }
  });
});

describe('evaluate --inception FILE --arcface FILE', () => {
  test('the command reads weights files made here and adds the FID and CSIM columns', async () => {
    const dir = tempDir();
    const rng = new Rng(5);
    const inc = pytorchFidWeights(rng);
    const arc = arcfaceWeights(rng);
    writeFileSync(join(dir, 'inception.safetensors'), encodeSafetensors(inc));
    writeFileSync(join(dir, 'arcface.safetensors'), encodeSafetensors(arc));
    const said: string[] = [];
    const log = console.log;
    console.log = (...x: unknown[]) => said.push(x.join(' '));
    try {
      await buildProgram().parseAsync(
        [
          'evaluate',
          '--videos',
          '1',
          '-T',
          '1',
          '--frames',
          '2',
          '--max-steps',
          '1',
          '--inception',
          join(dir, 'inception.safetensors'),
          '--arcface',
          join(dir, 'arcface.safetensors'),
          '-o',
          join(dir, 'out'),
        ],
        { from: 'user' },
      );
    } finally {
      console.log = log;
    }
    assert.match(said.join('\n'), /method\s+T\s+FID\s+FD-faceapi.*CSIM-faceapi\s+CSIM\s+\|/);
  });
});

describe('puppeteering ranking', () => {
  test('drivers ranked by CSIM-faceapi to the person, best first', async () => {
    const meta = loadMetaModel(DEFAULT_MODEL);
    const dir = tempDir();
    const ds = await proceduralTestSet(join(dir, 'ds'), 2, meta.net.resolution, 12);
    const p = await personalise(
      meta,
      framesFromDatasetAt(ds, 0, [0, 4, 8]),
      FineTuneConfigSchema.parse({ epochs: 1 }),
      null,
    );
    disposePersonalised(p);
    try {
      const ranks = await rankDrivers(p.model, [join(dir, 'ds'), join(dir, 'ds')], { maxFrames: 6 });
      assert.equal(ranks.length, 2);
      assert.ok(ranks[0]!.csim >= ranks[1]!.csim);
      for (const r of ranks) {
        assert.equal(r.frames, 6);
        assert.ok(r.csim > 0.5 && r.csim <= 1 && r.worst <= r.csim, JSON.stringify(r));
      }
      assert.match(rankTable(ranks), /^rank\s+CSIM-faceapi/);
    } finally {
      disposePersonal(p.model);
      disposeModel(meta);
    }
  });
});
