import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { tempDir } from '../../test/helpers/tmp.js';
import { initEngine } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { Dataset, DatasetError, manifestHash } from './dataset.js';
import { DatasetWriter } from './dataset_writer.js';
import { disposeEpisode, EpisodeSampler, fewShotSet, splitByIdentity, splitByVideo } from './episodes.js';
import { writeSyntheticDataset } from '../synthetic/write.js';

const RES = 16;

function writeTiny(dir: string, videos: [string, string, number][]): void {
  const w = new DatasetWriter(dir, { resolution: RES, source: 'test', landmarkSource: 'test' });
  for (const [id, identity, frames] of videos) {
    const v = w.begin(id, identity);
    for (let f = 0; f < frames; f++) {
      // frame f of this video: every byte = f, landmarks = f + k / 1000
      v.addFrame(
        new Uint8Array(RES * RES * 3).fill(f),
        Float32Array.from({ length: 136 }, (_, k) => f + k / 1000),
      );
    }
    v.end();
  }
}

before(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('dataset format', () => {
  test('round trip: slices of frames and landmarks come back exactly', () => {
    const dir = tempDir();
    writeTiny(dir, [
      ['a/1', 'a', 5],
      ['b/1', 'b', 3],
    ]);
    const ds = Dataset.open(dir);
    assert.equal(ds.numVideos, 2);
    assert.deepEqual([...new Set(ds.readFrames(0, 2, 2))], [2, 3]);
    assert.equal(ds.readFrames(1, 2).length, RES * RES * 3);
    assert.ok(Math.abs(ds.frameLandmarks(0, 4)[7]! - 4.007) < 1e-6);
    assert.match(ds.validate(), /2 videos, 2 identities, 8 frames at 16px/);
    assert.equal(manifestHash(dir).length, 64);
    assert.throws(() => ds.readFrames(1, 3), /has frames 0\.\.2, asked for 3/);
  });

  test('every bad-input case has a clear error', () => {
    const dir = tempDir();
    writeTiny(dir, [['a/1', 'a', 4]]);
    const mf = join(dir, 'manifest.json');
    const manifest = readFileSync(mf, 'utf8');
    const expectOpen = (pattern: RegExp) =>
      assert.throws(
        () => Dataset.open(dir).validate(),
        (e: unknown) => e instanceof DatasetError && pattern.test(e.message),
      );

    assert.throws(() => Dataset.open(join(dir, 'nope')), /manifest\.json is missing/);
    writeFileSync(mf, '{');
    expectOpen(/not valid JSON/);
    writeFileSync(mf, manifest.replace('"resolution": 16', '"resolution": "big"'));
    expectOpen(/invalid at "resolution"/);
    writeFileSync(mf, manifest.replace('"frames": 4', '"frames": 5'));
    expectOpen(/frames file is 3072 bytes, expected 3840/);
    writeFileSync(mf, manifest);
    const lm = join(dir, 'videos', '000000.landmarks');
    const lmBytes = readFileSync(lm);
    lmBytes.writeFloatLE(NaN, 4 * (136 * 2 + 11));
    writeFileSync(lm, lmBytes);
    expectOpen(/frame 2 landmark 5 is NaN/);
    truncateSync(lm, 100);
    expectOpen(/landmarks file is 100 bytes/);
    rmSync(lm);
    expectOpen(/missing its landmarks file/);

    const w = new DatasetWriter(tempDir(), { resolution: RES, source: 't', landmarkSource: 't' });
    const v = w.begin('x', 'x');
    assert.throws(
      () => v.addFrame(new Uint8Array(10), new Float32Array(136)),
      /frame has 10 bytes, expected 16x16x3/,
    );
    assert.throws(
      () => v.addFrame(new Uint8Array(RES * RES * 3), new Float32Array(136).fill(Infinity)),
      /landmark 0 is Infinity/,
    );
    assert.throws(() => v.end(), /has no frames/);
    assert.throws(
      () => new DatasetWriter(dir, { resolution: RES, source: 't', landmarkSource: 't' }),
      /already holds a dataset/,
    );
    assert.throws(
      () => new DatasetWriter(dir, { resolution: 32, source: 't', landmarkSource: 't' }, true),
      /it is 16px, asked for 32px/,
    );
  });
});

describe('episodes', () => {
  test('target never among the K frames; deterministic; batches shaped [B*K,H,W,3]', () => {
    const dir = tempDir();
    writeTiny(dir, [
      ['a/1', 'a', 9],
      ['a/2', 'a', 9],
      ['b/1', 'b', 3],
      ['c/1', 'c', 12],
    ]);
    const ds = Dataset.open(dir);
    const s = new EpisodeSampler(ds, 8, 42);
    for (let i = 0; i < 300; i++) {
      const p = s.plan(2);
      p.videos.forEach((v, e) => {
        const ks = p.kFrames[e]!;
        // a 3-frame video hosts an 8-shot episode with its 2 other frames, each used 4 times
        assert.equal(new Set(ks).size, v === 2 ? 2 : 8);
        assert.equal(ks.length, 8);
        assert.ok(!ks.includes(p.targets[e]!), 'target frame leaked into the K set');
      });
    }
    assert.deepEqual(new EpisodeSampler(ds, 8, 7).plan(4), new EpisodeSampler(ds, 8, 7).plan(4));
    const before = tf.memory().numTensors;
    const e = s.next(3);
    assert.deepEqual(e.xk.shape, [24, RES, RES, 3]);
    assert.deepEqual(e.yt.shape, [3, RES, RES, 3]);
    // pixel values: frame f stored as bytes f -> f / 127.5 - 1
    const f0 = e.plan.kFrames[0]![0]!;
    assert.ok(Math.abs(e.xk.dataSync()[0]! - (f0 / 127.5 - 1)) < 1e-6);
    disposeEpisode(e);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => new EpisodeSampler(ds, 20, 1, [2], { weights: [1, 2] }), /one weight per pool video/);
  });

  test('splits by video and identity, few-shot sets disjoint', () => {
    const dir = tempDir();
    writeTiny(
      dir,
      Array.from(
        { length: 12 },
        (_, i) => [`id${i % 4}/v${i}`, `id${i % 4}`, 10] as [string, string, number],
      ),
    );
    const ds = Dataset.open(dir);
    const sv = splitByVideo(ds, 0.25, 1);
    assert.equal(sv.test.length, 3);
    assert.deepEqual(
      [...sv.train, ...sv.test].sort((a, b) => a - b),
      [...Array(12).keys()],
    );
    const si = splitByIdentity(ds, 0.25, 1);
    const testIds = new Set(si.test.map((i) => ds.video(i).identity));
    const trainIds = new Set(si.train.map((i) => ds.video(i).identity));
    assert.equal(testIds.size, 1);
    assert.ok([...testIds].every((id) => !trainIds.has(id)));
    const fs = fewShotSet(ds, 0, 4, 32, 3);
    assert.equal(fs.train.length, 4);
    assert.equal(fs.holdout.length, 6);
    assert.ok(fs.train.every((f) => !fs.holdout.includes(f)));
    assert.throws(() => fewShotSet(ds, 0, 10, 5, 1), /needs 1 <= T < 10/);
  });
});

describe('synthetic dataset writer', () => {
  test('parallel and serial writers produce identical bytes; resume completes a partial dataset', async () => {
    const a = tempDir();
    const b = tempDir();
    const opts = {
      identities: 3,
      sequences: 2,
      frames: 3,
      size: 32,
      seed: 4,
      frameStep: 2,
      firstIdentity: 5,
    };
    await writeSyntheticDataset({ ...opts, out: a, workers: 2 });
    await writeSyntheticDataset({ ...opts, identities: 2, out: b, workers: 1 });
    await writeSyntheticDataset({ ...opts, out: b, workers: 1, resume: true });
    const da = Dataset.open(a);
    const db = Dataset.open(b);
    assert.deepEqual(
      da.videos.map((v) => v.id),
      [
        'synth00005/seq000',
        'synth00005/seq001',
        'synth00006/seq000',
        'synth00006/seq001',
        'synth00007/seq000',
        'synth00007/seq001',
      ],
    );
    assert.deepEqual(
      db.videos.map((v) => v.id),
      da.videos.map((v) => v.id),
    );
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(da.readFrames(i, 0, 3), db.readFrames(i, 0, 3));
      assert.deepEqual(da.landmarks(i), db.landmarks(i));
    }
  });
});
