// Real-media preprocessing on material available offline: face-api's demo photos, a talking-head
// video rendered by our synthetic generator and encoded by ffmpeg, and (where installed, as CI does)
// Debian opencv-doc's Megamind.avi.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cropResize, landmarksInCrop, squareFor } from '../src/faces/crop.js';
import { Dataset } from '../src/data/dataset.js';
import { mergeDatasets } from '../src/data/dataset_writer.js';
import { detectFaces, FaceDetector } from '../src/faces/detect.js';
import { encodePng } from '../src/media/png.js';
import { preprocess } from '../src/data/preprocess.js';
import { findUnits } from '../src/data/inputs.js';
import { HeadRenderer } from '../src/synthetic/render.js';
import { decodeFrames, encodeVideo, probe } from '../src/media/video.js';
import { initEngine } from '../src/engine/backend.js';
import { tempDir } from './helpers/tmp.js';

const require = createRequire(import.meta.url);
const DEMO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const MEGAMIND = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';

let detector: FaceDetector;
before(async () => {
  await initEngine({ backend: 'wasm' });
  detector = await FaceDetector.load();
});

/**
 * Re-detects landmarks on each stored crop and returns their mean distance to the stored ones (px).
 * The crop is placed in the middle of a grey canvas 3x its size: the SSD detector is unsure of faces
 * that fill the whole picture.
 */
async function selfConsistency(ds: Dataset): Promise<number[]> {
  const errs: number[] = [];
  const r = ds.resolution;
  const c = 3 * r;
  for (let v = 0; v < ds.numVideos; v++) {
    const frame = ds.readFrames(v, 0);
    const canvas = new Uint8Array(c * c * 3).fill(127);
    for (let y = 0; y < r; y++) canvas.set(frame.subarray(y * r * 3, (y + 1) * r * 3), ((y + r) * c + r) * 3);
    const stored = ds.frameLandmarks(v, 0);
    const faces = await detectFaces(detector, canvas, c, c, 0.3);
    assert.ok(faces.length > 0, `no face found again in the crop of ${ds.video(v).id}`);
    const lm = faces[0]!.landmarks;
    let s = 0;
    for (let i = 0; i < 68; i++)
      s += Math.hypot(lm[2 * i]! - r - stored[2 * i]!, lm[2 * i + 1]! - r - stored[2 * i + 1]!);
    errs.push(s / 68);
  }
  return errs;
}

describe('preprocess', () => {
  test('photos: one-frame videos at the top, a folder = one person; faces missing are reported; overlays sit on the faces', async () => {
    const input = tempDir();
    const out = join(tempDir(), 'ds');
    cpSync(join(DEMO, 'sample1.jpg'), join(input, 'sample1.jpg'));
    cpSync(join(DEMO, 'sample3.jpg'), join(input, 'sample3.jpg'));
    mkdirSync(join(input, 'anna'));
    cpSync(join(DEMO, 'sample4.jpg'), join(input, 'anna', 'a.jpg'));
    cpSync(join(DEMO, 'sample5.jpg'), join(input, 'anna', 'b.jpg'));
    // a photo with no face in it: a flat grey picture
    writeFileSync(
      join(input, 'anna', 'c.png'),
      encodePng({ width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(128) }),
    );
    writeFileSync(
      join(input, 'wall.png'),
      encodePng({ width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(90) }),
    );
    assert.deepEqual(
      findUnits(input).map((u) => [u.id, u.identity, u.kind, u.files.length]),
      [
        ['anna', 'anna', 'photos', 3],
        ['sample1', 'sample1', 'photos', 1],
        ['sample3', 'sample3', 'photos', 1],
        ['wall', 'wall', 'photos', 1],
      ],
    );
    const res = await preprocess({ input, out, resolution: 128 });
    const by = new Map(res.reports.map((r) => [r.id, r]));
    assert.equal(by.get('anna')!.status, 'ok');
    assert.equal(by.get('anna')!.kept, 2);
    assert.deepEqual(by.get('anna')!.noFace, [2]);
    assert.equal(by.get('wall')!.status, 'failed');
    assert.match(by.get('wall')!.reason!, /no face found/);
    assert.match(res.summary, /1 frame\(s\) without a face were left out/);
    assert.match(res.summary, /wall: no face found/);
    const log = JSON.parse(readFileSync(res.logPath, 'utf8')) as { units: { id: string; status: string }[] };
    assert.equal(log.units.length, 4);
    const ds = Dataset.open(out);
    assert.equal(ds.numVideos, 3);
    const errs = await selfConsistency(ds);
    // landmarks found again on the crop agree with the stored ones: they sit on the faces
    assert.ok(
      errs.every((e) => e < 0.04 * 128),
      `re-detection error (px): ${errs.map((e) => e.toFixed(1))}`,
    );

    // resume skips finished units and keeps the dataset
    const again = await preprocess({ input, out, resolution: 128, resume: true });
    assert.deepEqual(
      again.reports.map((r) => r.status),
      ['skipped', 'skipped', 'skipped', 'failed'],
    );
    assert.equal(Dataset.open(out).numVideos, 3);
  });

  test('parallel workers write the same dataset as one process, in input order', async () => {
    const input = tempDir();
    for (const f of ['sample1.jpg', 'sample2.jpg', 'sample6.jpg']) cpSync(join(DEMO, f), join(input, f));
    const serial = join(tempDir(), 'ds');
    const parallel = join(tempDir(), 'ds');
    await preprocess({ input, out: serial, resolution: 64 });
    const res = await preprocess({ input, out: parallel, resolution: 64, workers: 2, backend: 'wasm' });
    assert.deepEqual(
      res.reports.map((r) => [r.id, r.status]),
      [
        ['sample1', 'ok'],
        ['sample2', 'ok'],
        ['sample6', 'ok'],
      ],
    );
    const a = Dataset.open(serial);
    const b = Dataset.open(parallel);
    assert.deepEqual(
      b.videos.map((v) => v.id),
      a.videos.map((v) => v.id),
    );
    for (let v = 0; v < a.numVideos; v++) {
      assert.deepEqual(b.readFrames(v, 0), a.readFrames(v, 0));
      assert.deepEqual(b.landmarks(v), a.landmarks(v));
    }
  });

  test('shards: the same inputs as 1 shard and as 3 shards give the same videos and frames', async () => {
    const input = tempDir();
    const photos = ['sample1.jpg', 'sample2.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'];
    for (const f of photos) cpSync(join(DEMO, f), join(input, f));
    const whole = join(tempDir(), 'ds');
    await preprocess({ input, out: whole, resolution: 32 });
    const parts = [0, 1, 2].map(() => join(tempDir(), 'ds'));
    for (const [index, out] of parts.entries())
      await preprocess({ input, out, resolution: 32, shard: { index, count: 3 } });
    const a = Dataset.open(whole);
    const shards = parts.map((d) => Dataset.open(d));
    const ids = shards.flatMap((d) => d.videos.map((v) => v.id));
    assert.deepEqual([...ids].sort(), a.videos.map((v) => v.id).sort(), 'each video in exactly one shard');
    assert.ok(shards.filter((d) => d.numVideos > 0).length >= 2, 'the inputs are spread over the shards');
    for (const d of shards)
      for (let v = 0; v < d.numVideos; v++) {
        const w = a.videos.findIndex((x) => x.id === d.video(v).id);
        assert.deepEqual(d.readFrames(v, 0, d.video(v).frames), a.readFrames(w, 0, a.video(w).frames));
        assert.deepEqual(d.landmarks(v), a.landmarks(w));
      }
    // merged, the shards read as the whole (no frames copied); a video in two parts is refused
    const merged = mergeDatasets(join(tempDir(), 'merged'), parts);
    assert.deepEqual(merged.videos.map((v) => v.id).sort(), a.videos.map((v) => v.id).sort());
    for (let v = 0; v < merged.numVideos; v++) {
      const w = a.videos.findIndex((x) => x.id === merged.video(v).id);
      assert.deepEqual(merged.readFrames(v, 0), a.readFrames(w, 0));
      assert.deepEqual(merged.landmarks(v), a.landmarks(w));
    }
    merged.validate();
    const nonEmpty = parts[shards.findIndex((d) => d.numVideos > 0)]!;
    assert.throws(() => mergeDatasets(join(tempDir(), 'twice'), [whole, nonEmpty]), /is in both/);
  });

  test('video: synthetic talking head through mp4 -> frames, tracking, crops; corrupt files are reported', async () => {
    const input = tempDir();
    const r = new HeadRenderer(3, 2);
    mkdirSync(join(input, 'id00001', 'vidA'), { recursive: true });
    await encodeVideo(
      join(input, 'id00001', 'vidA', '00001.mp4'),
      Array.from({ length: 12 }, (_, f) => r.render(0, f * 2, 256).image),
      256,
      256,
      12,
    );
    writeFileSync(join(input, 'id00001', 'vidA', '00002.mp4'), 'not a video at all');
    const info = probe(join(input, 'id00001', 'vidA', '00001.mp4'));
    assert.deepEqual([info.width, info.height, info.fps], [256, 256, 12]);
    let n = 0;
    for await (const f of decodeFrames(join(input, 'id00001', 'vidA', '00001.mp4'), {
      fps: 6,
      maxSize: 128,
    })) {
      assert.equal(f.rgb.length, 128 * 128 * 3);
      n++;
    }
    assert.equal(n, 6, '12 frames at 12 fps sampled at 6 fps');

    const out = join(tempDir(), 'ds');
    const res = await preprocess({ input, out, resolution: 96, fps: 4, minFrames: 2 });
    const [ok, bad] = res.reports;
    assert.equal(ok!.id, 'id00001/vidA/00001');
    assert.equal(ok!.status, 'ok');
    assert.ok(ok!.kept >= 3, `kept ${ok!.kept} of ${ok!.frames}`);
    assert.equal(bad!.status, 'failed');
    assert.match(bad!.reason!, /Cannot read .*00002\.mp4.*finds no video/);
    const ds = Dataset.open(out);
    assert.equal(ds.video(0).identity, 'id00001');
    const errs = await selfConsistency(ds);
    assert.ok(errs[0]! < 0.05 * 96, `re-detection error ${errs[0]} px`);
  });

  test(
    'Megamind.avi (Debian opencv-doc): the main face is tracked and cropped',
    {
      skip: existsSync(MEGAMIND)
        ? false
        : `${MEGAMIND} not installed (apt-get install opencv-doc; .ci/run installs it)`,
    },
    async () => {
      const out = join(tempDir(), 'ds');
      const res = await preprocess({ input: MEGAMIND, out, resolution: 128, fps: 1, maxFrames: 5 });
      assert.equal(res.reports[0]!.status, 'ok');
      assert.equal(res.reports[0]!.frames, 5);
      const ds = Dataset.open(out);
      assert.ok(ds.video(0).frames >= 4);
      const errs = await selfConsistency(ds);
      assert.ok(errs[0]! < 0.04 * 128, `re-detection error ${errs[0]} px`);
    },
  );

  test("face-api's landmarks on synthetic renders agree with the generator's ground truth", async () => {
    let detected = 0;
    const errors: number[] = [];
    for (let id = 0; id < 6; id++) {
      const fr = new HeadRenderer(3, id).render(0, 0, 256);
      const faces = await detectFaces(detector, fr.image, 256, 256, 0.3);
      if (!faces[0]) continue;
      detected++;
      let s = 0;
      for (let i = 0; i < 68; i++)
        s += Math.hypot(
          faces[0].landmarks[2 * i]! - fr.landmarks[2 * i]!,
          faces[0].landmarks[2 * i + 1]! - fr.landmarks[2 * i + 1]!,
        );
      errors.push(s / 68);
    }
    assert.ok(detected >= 4, `face-api found ${detected} of 6 synthetic faces`);
    assert.ok(
      Math.max(...errors) < 0.04 * 256,
      `mean landmark distance (px at 256): ${errors.map((e) => e.toFixed(1))}`,
    );
  });
});

describe('crop geometry', () => {
  test('square from landmarks, crop and landmark mapping agree; edges replicate', () => {
    const lm = new Float32Array(136);
    for (let i = 0; i < 68; i++)
      [lm[2 * i], lm[2 * i + 1]] = [40 + (i % 11) * 2, 50 + Math.floor(i / 11) * 4]; // box 40..60 x 50..74
    const sq = squareFor(lm, { scale: 2, shiftUp: 0.1 });
    assert.deepEqual(sq, { cx: 50, cy: 62 - 4.8, side: 48 });
    const mapped = landmarksInCrop(lm, sq, 96);
    assert.deepEqual(
      [mapped[0], mapped[1]],
      [(40 - 26) * 2, (50 - (57.2 - 24)) * 2].map((x) => Math.fround(x)),
    );
    // an image whose pixel value is its column index: an upscaled crop keeps the gradient; outside the image the edge repeats
    const w = 64;
    const img = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) img.fill(x, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const c = cropResize(img, w, w, { cx: 60, cy: 32, side: 16 }, 32);
    assert.equal(c[(16 * 32 + 0) * 3], 52); // left edge of the crop: column 52
    assert.equal(c[(16 * 32 + 31) * 3], 63); // right part lies outside: replicated column 63
    const down = cropResize(img, w, w, { cx: 32, cy: 32, side: 64 }, 16);
    assert.ok(Math.abs(down[(8 * 16 + 8) * 3]! - 33.5) <= 1, 'area average of columns 32..35');
  });
});
