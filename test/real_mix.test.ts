// Issue 21 (real people): photo people as datasets, held-out people recorded, several datasets
// mixed with weights, episodes from videos of 1 and 2 frames, and --init onto other data.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Dataset, heldOutIdentities } from '../src/data/dataset.js';
import { DatasetWriter, mergeDatasets } from '../src/data/dataset_writer.js';
import { disposeEpisode, EpisodeSampler } from '../src/data/episodes.js';
import { DataMix } from '../src/data/mix.js';
import { preprocess } from '../src/data/preprocess.js';
import { chooseHeldOut, findUnits, licenceFiles } from '../src/data/inputs.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import type { ParamTree } from '../src/nn/params.js';
import { metaTrain, resolveMetaConfig } from '../src/train/meta.js';
import { loadMetaModel, disposeModel } from '../src/train/model.js';
import { writeTinyDataset } from './helpers/data.js';
import { tempDir } from './helpers/tmp.js';

const root = tempDir();
const synth = join(root, 'synth');
const photos = join(root, 'photos');
const other = join(root, 'other');

/**
 * A photo dataset made of the procedural one's frames (real landmarks): per identity one person
 * with `frames(i)` photos, the first `held` identities recorded as held out.
 */
function photoDataset(out: string, frames: (i: number) => number, held: number, resolution = 32): void {
  const src = Dataset.open(synth);
  const w = new DatasetWriter(out, { resolution, source: 'test photos', landmarkSource: 'synthetic' });
  const people: string[] = [];
  for (let v = 0; v < src.numVideos; v += 2) {
    const id = `p${v / 2}`;
    people.push(id);
    const vw = w.begin(id, id);
    for (let f = 0; f < frames(v / 2); f++)
      vw.addFrame(src.readFrames(v, f * 3), src.frameLandmarks(v, f * 3));
    vw.end();
  }
  w.setInfo({ heldOut: people.slice(0, held) });
}

before(async () => {
  await initEngine({});
  await writeTinyDataset(synth); // 6 identities x 2 videos x 8 frames
  photoDataset(photos, (i) => (i % 2 ? 1 : 2), 1); // p0 held out; p1, p3, p5 one photo; p2, p4 two
  photoDataset(other, () => 2, 0);
});

describe('real material in', () => {
  test('photos grouped by name across folders: one person per name, frames in folder order', () => {
    const dir = tempDir();
    for (const [sub, names] of [
      ['neutral', ['001', '002', '003']],
      ['smiling', ['001', '003']],
    ] as const) {
      mkdirSync(join(dir, sub));
      for (const n of names) writeFileSync(join(dir, sub, `${n}.jpg`), '');
    }
    writeFileSync(join(dir, 'LICENSE.md'), 'CC BY 4.0');
    const units = findUnits(dir, 'name');
    assert.deepEqual(
      units.map((u) => [u.id, u.identity, u.files.map((f) => f.slice(dir.length + 1))]),
      [
        ['001', '001', ['neutral/001.jpg', 'smiling/001.jpg']],
        ['002', '002', ['neutral/002.jpg']],
        ['003', '003', ['neutral/003.jpg', 'smiling/003.jpg']],
      ],
    );
    // by folder (the default): each folder is one "person"
    assert.deepEqual(
      findUnits(dir).map((u) => u.id),
      ['neutral', 'smiling'],
    );
    assert.deepEqual(licenceFiles(dir), [join(dir, 'LICENSE.md')]);
  });

  test('held-out people: a seeded draw or named ones, checked', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const h = chooseHeldOut(ids, 2, 0);
    assert.equal(h.length, 2);
    assert.deepEqual(chooseHeldOut(ids, 2, 0), h, 'deterministic');
    assert.deepEqual(chooseHeldOut(ids, ['e', 'b']), ['b', 'e']);
    assert.throws(() => chooseHeldOut(ids, ['zz']), /--hold-out names "zz", not among the identities/);
    assert.throws(() => chooseHeldOut(ids, 6), /needs 0 <= N < 6/);
  });
});

describe('a mix of datasets', () => {
  test('videos of all parts read as one; identities per dataset; weights set how often each is drawn', () => {
    const mix = new DataMix([synth, photos], [0.8, 0.2]);
    const s = Dataset.open(synth);
    assert.equal(mix.numVideos, s.numVideos + 6);
    assert.deepEqual(mix.readFrames(s.numVideos + 2, 1), Dataset.open(photos).readFrames(2, 1));
    assert.deepEqual(mix.frameLandmarks(3, 4), s.frameLandmarks(3, 4));
    assert.equal(mix.video(s.numVideos).identity, '1:p0');
    // held out: the photo set's recorded person; the procedural set's fraction of identities
    const split = mix.split(0.34, 0);
    const heldPhotos = split.test.filter((v) => v >= s.numVideos).map((v) => mix.video(v).identity);
    assert.deepEqual(heldPhotos, ['1:p0']);
    assert.equal(
      split.test.filter((v) => v < s.numVideos).length,
      4,
      '2 of 6 procedural identities x 2 videos',
    );
    const sampler = new EpisodeSampler(mix, 2, 1, split.train, {
      weights: mix.poolWeights(split.train),
      augment: { flip: 0, jitter: 0, colour: 0, warp: 1 },
    });
    const plan = sampler.plan(4000);
    const fromPhotos = plan.videos.filter((v) => v >= s.numVideos).length / 4000;
    assert.ok(Math.abs(fromPhotos - 0.2) < 0.03, `photo share ${fromPhotos}`);
    assert.ok(!plan.videos.some((v) => split.test.includes(v)), 'held-out videos never drawn');
    // equal weights by default: each dataset half the time, whatever its size
    const even = new EpisodeSampler(mix, 2, 1, split.train, {
      weights: new DataMix([synth, photos]).poolWeights(split.train),
      augment: { flip: 0, jitter: 0, colour: 0, warp: 1 },
    }).plan(4000);
    const share = even.videos.filter((v) => v >= s.numVideos).length / 4000;
    assert.ok(Math.abs(share - 0.5) < 0.03, `photo share ${share}`);
  });

  test('a merge of shards keeps their held-out people', () => {
    const shard = tempDir();
    const w = new DatasetWriter(shard, { resolution: 32, source: 'shard', landmarkSource: 'synthetic' });
    const src = Dataset.open(synth);
    w.addVideo('z', 'z', src.readFrames(0, 0, 2), src.landmarks(0).slice(0, 272));
    w.setInfo({ heldOut: ['z'] });
    const merged = mergeDatasets(join(tempDir(), 'm'), [photos, shard]);
    assert.deepEqual(heldOutIdentities(merged.manifest), ['p0', 'z']);
  });

  test('bad mixes get clear errors', () => {
    assert.throws(
      () => new DataMix([synth, join(root, 'nope')]),
      /Dataset 2 of the mix: .*manifest\.json is missing/,
    );
    assert.throws(() => new DataMix([synth, photos], [1]), /--mix has 1 weight\(s\) for 2 dataset\(s\)/);
    assert.throws(() => new DataMix([synth, photos], [0, 0]), /not all 0/);
    const big = tempDir();
    const w = new DatasetWriter(big, { resolution: 16, source: 't', landmarkSource: 't' });
    const v = w.begin('a', 'a');
    v.addFrame(new Uint8Array(16 * 16 * 3), new Float32Array(136).fill(8));
    v.end();
    assert.throws(
      () => new DataMix([synth, big]),
      /is 16px but .* is 32px: every dataset of a mix has one resolution/,
    );
  });
});

describe('episodes from short videos', () => {
  test('two photos: K slots repeat the one that is not the target; one photo: a warped copy, or left out', () => {
    const ds = Dataset.open(photos);
    const all = ds.videos.map((_, i) => i);
    const plain = new EpisodeSampler(ds, 4, 3, all);
    assert.deepEqual(
      plain.pool.map((v) => ds.video(v).frames),
      [2, 2, 2],
      'one-photo people are left out without the warp',
    );
    for (let i = 0; i < 50; i++) {
      const p = plain.plan(2);
      p.kFrames.forEach((ks, e) => {
        assert.equal(ks.length, 4);
        assert.deepEqual([...new Set(ks)], [1 - p.targets[e]!], 'K = the other photo, 4 times');
      });
    }
    const onlyOne = ds.videos.map((_, i) => i).filter((v) => ds.video(v).frames === 1);
    assert.throws(() => new EpisodeSampler(ds, 2, 1, onlyOne), /No video in the pool has the 2 frames/);

    const warped = new EpisodeSampler(ds, 2, 3, all, {
      augment: { flip: 0.5, jitter: 1, colour: 1, warp: 1 },
    });
    assert.equal(warped.pool.length, 6, 'with the warp every photo person trains');
    // what meta-train's note on source-warp networks reads: which people can get warped targets
    assert.deepEqual(
      warped.pool.map((v) => warped.warpsTargetsOf(v)),
      warped.pool.map(() => true),
    );
    assert.deepEqual(
      plain.pool.map((v) => plain.warpsTargetsOf(v)),
      [false, false, false],
    );
    const before = tf.memory().numTensors;
    let seenOne = false;
    for (let i = 0; i < 10; i++) {
      const e = warped.next(3);
      e.plan.videos.forEach((v, j) => {
        if (ds.video(v).frames > 1) return;
        seenOne = true;
        assert.ok(e.plan.augment![j]!.warp, 'a one-photo person always gets a warped target');
        // the target is not the K frame itself: the warp (and jitter) moved it
        const res = ds.resolution * ds.resolution * 3;
        const diff = tf.tidy(() =>
          tf.sum(
            tf.abs(
              tf.sub(
                tf.slice(e.xk, [j * 2, 0, 0, 0], [1, -1, -1, -1]),
                tf.slice(e.xt, [j, 0, 0, 0], [1, -1, -1, -1]),
              ),
            ),
          ),
        );
        assert.ok(diff.dataSync()[0]! / res > 0.005);
        diff.dispose();
      });
      disposeEpisode(e);
    }
    assert.ok(seenOne);
    assert.equal(tf.memory().numTensors, before, 'episodes leave no tensor behind');
    assert.deepEqual(
      new EpisodeSampler(ds, 2, 9, all, { augment: { flip: 0.5, jitter: 1, colour: 1, warp: 1 } }).plan(6),
      new EpisodeSampler(ds, 2, 9, all, { augment: { flip: 0.5, jitter: 1, colour: 1, warp: 1 } }).plan(6),
      'plans (with their augmentations) are deterministic',
    );
  });
});

describe('meta-train on a mix, then --init onto other data', () => {
  const cfg = (out: string, extra: Record<string, unknown>) =>
    resolveMetaConfig(undefined, {
      preset: 'tiny',
      k: 2,
      batch: 2,
      steps: 3,
      out,
      sampleEvery: 1000,
      checkpointEvery: 1000,
      logEvery: 1,
      ...extra,
    });

  test('columns for every training video of every dataset; the run folder records the mix and held-out people', async () => {
    const out = tempDir();
    const res = await metaTrain(
      cfg(out, {
        data: [synth, photos],
        mix: [0.5, 0.5],
        variant: 'ft',
        holdout: 0.2,
        augment: { flip: 0.5, jitter: 0.5, colour: 0.5, warp: 0.5 },
      }),
      undefined,
      { log: () => {} },
    );
    assert.equal(res.stopped, 'done');
    const saved = JSON.parse(readFileSync(join(res.dir, 'config.json'), 'utf8')) as {
      data: { trainVideos: number; heldOutIdentities: string[]; mix: { trainVideos: number }[] };
      augment: { warp: number };
    };
    assert.deepEqual(
      saved.data.mix.map((m) => m.trainVideos),
      [10, 5],
    );
    assert.equal(saved.data.trainVideos, 15);
    assert.ok(saved.data.heldOutIdentities.includes('1:p0'));
    assert.equal(saved.augment.warp, 0.5);
    const m = loadMetaModel(res.dir);
    assert.equal(m.columns, 15);
    disposeModel(m);

    // without the warp the one-photo people are left out, and the run says so
    const res1 = await metaTrain(
      cfg(tempDir(), { data: [synth, photos], holdout: 0.2, steps: 1 }),
      undefined,
      {
        log: () => {},
      },
    );
    const saved1 = JSON.parse(readFileSync(join(res1.dir, 'config.json'), 'utf8')) as {
      data: { trainVideos: number; unusable: string };
    };
    assert.equal(saved1.data.trainVideos, 12);
    assert.match(saved1.data.unusable, /3 one-frame videos/);

    // --init from it onto another dataset: new columns, the old ones dropped; W_i = video i's embedding
    const res2 = await metaTrain(
      cfg(tempDir(), { data: other, init: res.dir, variant: 'ft', holdout: 0, steps: 1 }),
      undefined,
      {
        log: () => {},
      },
    );
    assert.equal(res2.stopped, 'done');
    const cfg2 = JSON.parse(readFileSync(join(res2.dir, 'config.json'), 'utf8')) as {
      init: { newColumns: number };
    };
    assert.equal(cfg2.init.newColumns, 6);
    const m2 = loadMetaModel(res2.dir);
    assert.equal(m2.columns, 6);
    // each column its own video's embedding (an FT model: W lives in the embedding's space)
    const W = (((m2.params['D'] as ParamTree)['proj'] as ParamTree)['W'] as tf.Tensor2D).arraySync();
    assert.notDeepEqual(
      W.map((row) => row[0]),
      W.map((row) => row[1]),
    );
    disposeModel(m2);
  });

  test('a weight list that does not match the datasets is refused before training', async () => {
    await assert.rejects(
      metaTrain(cfg(tempDir(), { data: [synth, photos], mix: [1, 2, 3] }), undefined, { log: () => {} }),
      /--mix has 3 weight\(s\) for 2 dataset\(s\)/,
    );
  });
});

/** The project's real material (../shared/data/real-faces): CI has it; a clone without it skips. */
const REAL = join(import.meta.dirname, '..', '..', 'shared', 'data', 'real-faces');

describe('the real material (../shared/data/real-faces)', () => {
  test(
    'London people preprocess as 2-frame people (neutral, then smiling), held out as asked, with their licence',
    {
      skip: existsSync(join(REAL, 'london'))
        ? false
        : `${REAL} is absent (the team's shared folder; CI has it)`,
    },
    async () => {
      const input = tempDir();
      for (const sub of ['neutral', 'smiling']) {
        mkdirSync(join(input, sub));
        for (const id of ['001', '004', '005'])
          copyFileSync(join(REAL, 'london', sub, `${id}.jpg`), join(input, sub, `${id}.jpg`));
      }
      copyFileSync(join(REAL, 'london', 'LICENSE.md'), join(input, 'LICENSE.md'));
      const out = join(tempDir(), 'ds');
      const res = await preprocess({ input, out, resolution: 64, photosBy: 'name', holdOut: ['004'] });
      assert.deepEqual(
        res.reports.map((r) => [r.id, r.status, r.kept]),
        [
          ['001', 'ok', 2],
          ['004', 'ok', 2],
          ['005', 'ok', 2],
        ],
      );
      const ds = Dataset.open(out);
      assert.deepEqual(heldOutIdentities(ds.manifest), ['004']);
      assert.equal(
        readFileSync(join(out, 'LICENSE.md'), 'utf8'),
        readFileSync(join(REAL, 'london', 'LICENSE.md'), 'utf8'),
      );
      // frame 0 is the neutral photo, frame 1 the smiling one: the mouth is wider when smiling
      const width = (lm: Float32Array) =>
        Math.hypot(lm[2 * 54]! - lm[2 * 48]!, lm[2 * 54 + 1]! - lm[2 * 48 + 1]!);
      const wider = [0, 1, 2].filter(
        (v) => width(ds.frameLandmarks(v, 1)) > width(ds.frameLandmarks(v, 0)),
      ).length;
      assert.ok(wider >= 2, `the smile widens the mouth in ${wider} of 3 people`);
    },
  );
});
