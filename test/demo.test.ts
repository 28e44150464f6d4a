// The shipped model (models/): its file is the one models.json and the model card describe, and it
// loads with every check; the demo's path end to end at tiny size; meta-learning continued from a
// model file (fresh optimizer).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { DEMO_ASSETS, runDemo } from '../src/demo/demo.js';
import { readGifComments, readPngText } from '../src/media/provenance.js';
import { readPng } from '../src/media/png.js';
import { writeSyntheticDataset } from '../src/synthetic/write.js';
import { mediaTags, probe } from '../src/media/video.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { METHODS, type Scores } from '../src/eval/heldout.js';
import { flatten } from '../src/nn/params.js';
import { preset } from '../src/models/presets.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { metaTrain, resolveMetaConfig } from '../src/train/meta.js';
import { initMetaParams } from '../src/train/meta_step.js';
import {
  DEFAULT_MODEL,
  disposeModel,
  fileSha256,
  listShippedModels,
  loadMetaModel,
  resolveModel,
  saveModelFile,
  type MetaModel,
} from '../src/train/model.js';
import { tempDir } from './helpers/tmp.js';

const FACE_API_DEMO = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
  'demo',
);
const tmp = tempDir();
const data = join(tmp, 'ds');

/** A tiny meta-trained model file (weights at init) for `data` (3 videos, nothing held out). */
function tinyModelFile(path: string, presetName = 'tiny'): string {
  const config = resolveMetaConfig(undefined, { data, preset: presetName, k: 2, holdout: 0 });
  const { params, sn } = initMetaParams(preset(presetName), 3, 11);
  const m: MetaModel = {
    source: '',
    hash: '',
    step: 7,
    columns: 3,
    config,
    net: preset(presetName),
    params,
    sn,
  };
  saveModelFile(m, path);
  disposeModel(m);
  return path;
}

before(async () => {
  await initEngine({});
  await writeSyntheticDataset({
    out: data,
    identities: 3,
    sequences: 1,
    frames: 10,
    size: 32,
    seed: 2,
    frameStep: 2,
    firstIdentity: 0,
    workers: 1,
  });
});

describe('the shipped model', () => {
  test('models.json names every file with its SHA-256 and size; the default is there', () => {
    const models = listShippedModels();
    assert.ok(
      models.some((m) => m.name === DEFAULT_MODEL),
      `the default ${DEFAULT_MODEL} ships`,
    );
    const manifest = JSON.parse(readFileSync('models/models.json', 'utf8')) as Record<
      string,
      { sha256: string; bytes: number; card: string }
    >;
    assert.deepEqual(Object.keys(manifest).sort(), models.map((m) => m.name).sort());
    let total = 0;
    for (const m of models) {
      assert.equal(fileSha256(m.path), manifest[m.name]!.sha256, `${m.name}: the file the card describes`);
      assert.equal(statSync(m.path).size, manifest[m.name]!.bytes);
      assert.ok(existsSync(manifest[m.name]!.card), `${m.name}: model card ${manifest[m.name]!.card}`);
      total += m.bytes;
    }
    // three models, stored compactly (io/compact.ts): small-64px-ff, real-64px and real-128px (the
    // small preset grown to 128 px) in f16, 6.3 MB each: together within the package's 40 MB
    assert.ok(total <= 40e6, `shipped models ${(total / 1e6).toFixed(1)} MB <= 40 MB`);
  });

  test('loads by name with every check (format, preset, every tensor shape)', () => {
    const info = listShippedModels().find((m) => m.name === DEFAULT_MODEL)!;
    const m = loadMetaModel(DEFAULT_MODEL);
    try {
      assert.equal(m.source, resolveModel(DEFAULT_MODEL));
      assert.equal(m.config.preset, 'small');
      assert.equal(m.net.resolution, 64);
      assert.equal(m.config.variant, 'ff');
      assert.equal(m.step, info.step);
      assert.equal(m.hash, info.sha256, 'the hash the model API reports is the file hash');
      const G = flatten(m.params['G'] as never);
      assert.ok(G.size > 20, 'the generator has its tensors');
      for (const t of G.values()) assert.ok(t.shape.every((d) => d > 0));
    } finally {
      disposeModel(m);
    }
  });

  test('an unknown name says which models exist', () => {
    assert.throws(
      () => resolveModel('no-such-model'),
      new RegExp(`Model "no-such-model" does not exist.*${DEFAULT_MODEL}`),
    );
  });
});

describe('demo', () => {
  test('tiny end to end: three methods scored against the real hold-out frames, MP4 / GIF / PNG / model written', async () => {
    const model = tinyModelFile(join(tmp, 'tiny.safetensors'));
    const out = join(tmp, 'out');
    const before = tf.memory().numTensors;
    const said: string[] = [];
    const res = await runDemo(
      { model, out, seed: 1, T: 2, frames: 8, epochs: 1, procedural: true },
      { log: (s) => said.push(s) },
    );
    assert.equal(tf.memory().numTensors, before, 'every tensor freed');
    for (const f of ['demo.mp4', 'demo.gif', 'demo.png', 'demo-person.safetensors'])
      assert.ok(existsSync(join(out, f)), f);
    const mp4 = probe(join(out, 'demo.mp4'));
    assert.equal(mp4.fps, 25);
    assert.ok(Math.abs(mp4.duration - 8 / 25) < 0.05, `8 frames at 25 fps: ${mp4.duration} s`);
    const png = readPng(readFileSync(join(out, 'demo.png')));
    assert.ok(png.width > 8 * 32 && png.height > 10 * 32, `${png.width}x${png.height}`);
    const scores = res.scores;
    assert.ok(scores);
    for (const m of METHODS) {
      const s: Scores = scores[m];
      assert.equal(s.frames, 8);
      assert.ok(s.ssim > -1 && s.ssim < 1 && Number.isFinite(s.psnr), `${m}: ${s.ssim} ${s.psnr}`);
    }
    const table = said.join('\n');
    assert.match(
      table,
      /untrained\s+-?\d\.\d{3}\s+\d+\.\d\d\n.*feed-forward\s+-?\d\.\d{3}\s+\d+\.\d\d\n.*fine-tuned\s+-?\d\.\d{3}/s,
    );
  });

  test('with a photo: the person from its face, driven by the GRID clip; no table without real hold-out frames', async () => {
    const model = tinyModelFile(join(tmp, 'tiny-photo.safetensors'));
    const out = join(tmp, 'out-photo');
    const said: string[] = [];
    const res = await runDemo(
      { model, out, seed: 0, T: 8, frames: 8, epochs: 1, photos: join(FACE_API_DEMO, 'sample2.jpg') },
      { log: (s) => said.push(s) },
    );
    assert.equal(res.scores, null);
    assert.match(said.join('\n'), /Person: 1 photo\(s\)[\s\S]*GRID clip sbia1a[\s\S]*no table/);
    for (const f of ['demo.mp4', 'demo.gif', 'demo.png']) assert.ok(existsSync(join(out, f)), f);
  });

  test("by default a real held-out person (committed with its licence): T = 1, scored on the real smile; the clip's sound and the synthetic tags in every output", async () => {
    for (const f of [
      'london/neutral/004.jpg',
      'london/smiling/004.jpg',
      'london/LICENSE.md',
      'grid/sbia1a.mp4',
      'grid/LICENSE.md',
    ])
      assert.ok(existsSync(join(DEMO_ASSETS, f)), `assets/demo/${f}`);
    const model = tinyModelFile(join(tmp, 'tiny-real.safetensors'));
    const out = join(tmp, 'out-real');
    const said: string[] = [];
    const before = tf.memory().numTensors;
    const res = await runDemo(
      { model, out, seed: 0, T: 1, frames: 12, epochs: 1 },
      { log: (s) => said.push(s) },
    );
    assert.equal(tf.memory().numTensors, before, 'every tensor freed');
    const log = said.join('\n');
    assert.match(
      log,
      /London Set person 004[\s\S]*DeBruine & Jones 2017[\s\S]*GRID clip sbia1a[\s\S]*Cooke et al\. 2006/,
    );
    for (const m of METHODS) assert.equal(res.scores![m].frames, 1, 'one real frame: the smile');
    assert.match(log, /untrained\s+-?\d\.\d{3}\s+\d+\.\d\d\n.*feed-forward.*\n.*fine-tuned/s);
    const mp4 = join(out, 'demo.mp4');
    assert.ok(probe(mp4).audio, "the GRID clip's sound is in the MP4");
    assert.match(mediaTags(mp4)['comment'] ?? '', /^SYNTHETIC: generated by neural-talking-heads/);
    assert.match(readGifComments(readFileSync(join(out, 'demo.gif')))[0] ?? '', /^SYNTHETIC/);
    assert.match(readPngText(readFileSync(join(out, 'demo.png')))['Comment'] ?? '', /^SYNTHETIC/);
  });
});

describe('meta-learning from a model file', () => {
  test('--init starts a new run from its weights with a fresh optimizer; a mismatched preset is refused', async () => {
    const model = tinyModelFile(join(tmp, 'init.safetensors'));
    const cfg = resolveMetaConfig(undefined, {
      data,
      preset: 'tiny',
      k: 2,
      batch: 1,
      steps: 1,
      holdout: 0,
      init: model,
      out: join(tmp, 'runs'),
    });
    const res = await metaTrain(cfg, undefined, { log: () => {} });
    const ck0 = loadCheckpoint(join(res.dir, 'checkpoints', 'step-00000000'));
    const m = loadMetaModel(model);
    try {
      for (const [k, t] of flatten(m.params)) {
        const got = flatten(ck0.trees['params']!).get(k)!;
        assert.deepEqual(got.dataSync(), t.dataSync(), `${k} starts from the model`);
      }
      const config = JSON.parse(readFileSync(join(res.dir, 'config.json'), 'utf8')) as {
        init: { sha256: string };
      };
      assert.equal(config.init.sha256, m.hash, 'the run says what it started from');
    } finally {
      disposeModel(m);
      for (const t of Object.values(ck0.trees)) tf.dispose([...flatten(t).values()]);
    }
    const small = tinyModelFile(join(tmp, 'small.safetensors'), 'small');
    await assert.rejects(
      metaTrain({ ...cfg, init: small, out: join(tmp, 'runs2') }, undefined, { log: () => {} }),
      /--init ".*small\.safetensors" is preset small \(64px\), this run is tiny \(32px\)/,
    );
  });
});
