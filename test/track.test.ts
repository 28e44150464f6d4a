// Faces in real video at video speed (issue 11): the landmark net twin, the appearance tracker, the
// face tracker on VoxCeleb-style close-ups (made from a face-api demo photo and from the procedural
// heads) and on a clip where the face leaves, the crop that never invents more than a small border,
// and preprocessing of a close-up video end to end.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { faceTemplate, searchBox } from '../src/faces/box_track.js';
import {
  detectFaces,
  FaceDetector,
  landmarkInput,
  landmarkSquare,
  locateFaces,
  type Box,
} from '../src/faces/detect.js';
import { photoCloseUpClip } from '../src/synthetic/photo_clips.js';
import { fitSquare, MAX_CROP_BORDER, preprocess } from '../src/data/preprocess.js';
import { closeUpClip, type Clip } from '../src/synthetic/clips.js';
import {
  DETECT_EVERY_FRAME,
  faceSize,
  meanPointDistance,
  newTrackStats,
  shapeDistance,
  trackLandmarks,
  type FaceFrame,
  type TrackOptions,
} from '../src/faces/track.js';
import { decodeFrames, encodeVideo, type Frame } from '../src/media/video.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { tempDir } from './helpers/tmp.js';

const require = createRequire(import.meta.url);
const DEMO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

let det: FaceDetector;
before(async () => {
  await initEngine();
  det = await FaceDetector.load();
});

async function* framesOf(clip: Clip): AsyncGenerator<Frame> {
  for (let i = 0; i < clip.frames.length; i++)
    yield { index: i, width: clip.width, height: clip.height, rgb: clip.frames[i]! };
}

async function track(clip: Clip, o: Partial<TrackOptions> = {}) {
  const stats = newTrackStats();
  const out: FaceFrame[] = [];
  for await (const f of trackLandmarks(framesOf(clip), det, { fps: clip.fps, ...o }, stats)) out.push(f);
  return { out, stats };
}

/** Mean point distance in % of the reference's face size, per frame (NaN where either has none). */
const errors = (out: FaceFrame[], ref: (Float32Array | null)[]) =>
  out.map((f, i) => {
    const r = ref[i];
    return f.face && !f.face.flag && r ? (100 * meanPointDistance(f.face.landmarks, r)) / faceSize(r) : NaN;
  });
/** Mean over the frames where both had a face (at least `min` of them). */
const mean = (xs: number[], min = xs.length) => {
  const ok = xs.filter((x) => !Number.isNaN(x));
  assert.ok(ok.length >= min, `${ok.length} of ${xs.length} frames compared`);
  return ok.reduce((s, x) => s + x, 0) / ok.length;
};

describe('face tracking', () => {
  test("the landmark net equals face-api's own forward, batched or not", async () => {
    let photo: Frame | null = null;
    for await (const f of decodeFrames(join(DEMO, 'sample1.jpg'), { maxSize: 640 })) photo = f;
    const { faces } = await locateFaces(det, photo!.rgb, photo!.width, photo!.height, 0.5);
    assert.ok(faces.length > 0);
    const crops = [0, 6, -6].map((dx) => {
      const b = faces[0]!.box;
      return landmarkInput(photo!.rgb, photo!.width, photo!.height, landmarkSquare({ ...b, x: b.x + dx }));
    });
    const ours = await det.landmarks(crops);
    const theirs = await det.faceApiLandmarks(crops);
    const single = await det.landmarks([crops[1]!]);
    let worst = 0;
    ours.forEach((lm, i) => lm.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - theirs[i]![j]!)))));
    assert.ok(worst < 1e-3, `largest difference ${worst} px`);
    assert.ok(
      meanPointDistance(single[0]!, ours[1]!) < 1e-4,
      'a batch of one equals the same crop in a batch',
    );
  });

  test('the appearance tracker finds a moved and rescaled face; a flat frame scores 0', async () => {
    const clip = closeUpClip(4, 2, 1, 224, 2);
    const rgb = clip.frames[0]!;
    const box: Box = { x: 60, y: 50, width: 100, height: 110 };
    const template = faceTemplate(rgb, 224, 224, box);
    for (const [dx, dy] of [
      [0, 0],
      [9, -6],
      [-12, 10],
    ]) {
      const start = { ...box, x: box.x - dx!, y: box.y - dy! };
      const found = searchBox(rgb, 224, 224, template, start);
      const cell = box.width / 32;
      assert.ok(Math.abs(found.box.x - box.x) <= cell + 1e-6, `x ${found.box.x} for ${box.x} (shift ${dx})`);
      assert.ok(Math.abs(found.box.y - box.y) <= box.height / 32 + 1e-6, `y ${found.box.y} for ${box.y}`);
      assert.ok(found.score > 0.95, `match ${found.score}`);
    }
    const flat = new Uint8Array(224 * 224 * 3).fill(90);
    assert.equal(searchBox(flat, 224, 224, template, box).score, 0);
  });

  test("a close-up made from a demo photo: found on every frame, within 3% of the wide frame's landmarks", async () => {
    const clip = await photoCloseUpClip(det, join(DEMO, 'sample2.jpg'), 32);
    // face-api's own chain, as preprocessing ran before: no face in a close-up
    const chain = await det.faceApiReference(clip.frames[0]!, 224, 224, 0.5);
    assert.equal(
      chain.length,
      0,
      "face-api's chain now finds the close-up: the padding is no longer needed?",
    );
    const { out, stats } = await track(clip);
    assert.equal(out.filter((f) => f.face && !f.face.flag).length, 32, `found ${JSON.stringify(stats)}`);
    assert.ok(
      stats.padded > 0 && stats.detections < 8,
      `detections ${stats.detections}, padded ${stats.padded}`,
    );
    const e = errors(out, clip.landmarks);
    assert.ok(
      mean(e) < 3 && Math.max(...e) < 5,
      `errors vs the wide frame (%): ${e.map((x) => x.toFixed(1))}`,
    );
    for (const f of out) assert.ok(f.face!.confidence > 0.5 && f.face!.confidence <= 1);
  });

  test('a procedural close-up: tracked = detect-every-frame within 3%, both near the true landmarks', async () => {
    const clip = closeUpClip(11, 3, 32);
    const fast = await track(clip);
    const every = await track(clip, DETECT_EVERY_FRAME);
    assert.equal(fast.out.filter((f) => f.face && !f.face.flag).length, 32);
    const ref = every.out.map((f) => f.face?.raw ?? null);
    const vsEvery = errors(fast.out, ref);
    assert.ok(
      mean(vsEvery, 30) < 3,
      `tracked vs detect-every-frame (%): ${vsEvery.map((x) => x.toFixed(1))}`,
    );
    const vsTruth = errors(fast.out, clip.landmarks);
    assert.ok(mean(vsTruth) < 8, `tracked vs the generator (%): ${vsTruth.map((x) => x.toFixed(1))}`);
    assert.ok(fast.stats.detections <= 4 && every.stats.detections === 32);
  });

  test('a face that leaves the frame is not kept; it is found again when it returns', async () => {
    const clip = closeUpClip(11, 3, 40);
    for (let i = 12; i < 24; i++) clip.frames[i] = new Uint8Array(224 * 224 * 3).fill(120);
    const { out, stats } = await track(clip);
    const kept = (i: number) => Boolean(out[i]!.face && !out[i]!.face!.flag);
    const gone = Array.from({ length: 12 }, (_, k) => 12 + k);
    assert.deepEqual(gone.filter(kept), [], `frames without a face kept: ${JSON.stringify(stats)}`);
    assert.ok(
      out.slice(0, 12).every((_, i) => kept(i)),
      'before',
    );
    assert.ok(
      out.slice(26).every((_, i) => kept(26 + i)),
      `after: ${JSON.stringify(stats)}`,
    );
    assert.equal(out.length, 40, 'one result per frame, in order');
    assert.deepEqual(
      out.map((f) => f.frame.index),
      Array.from({ length: 40 }, (_, i) => i),
    );
  });

  test('shape distance ignores head motion, sees landmark failure', () => {
    const clip = closeUpClip(2, 5, 1);
    const a = clip.landmarks[0]!;
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const moved = a.map((_, i) =>
      i % 2 === 0 ? 1.4 * (c * a[i]! - s * a[i + 1]!) + 20 : 1.4 * (s * a[i - 1]! + c * a[i]!) - 7,
    );
    assert.ok(shapeDistance(a, moved) < 1e-5, `rigid motion: ${shapeDistance(a, moved)}`);
    const broken = a.map((v, i) => (i >= 96 && i % 2 === 1 ? v + 0.5 * faceSize(a) : v)); // mouth torn off
    assert.ok(shapeDistance(a, broken) > 0.1, `broken: ${shapeDistance(a, broken)}`);
  });

  test('crops never invent more than a small border', () => {
    const inside = fitSquare({ cx: 100, cy: 100, side: 80 }, 224, 224);
    assert.deepEqual(inside, { sq: { cx: 100, cy: 100, side: 80 }, limited: false });
    // a VoxCeleb-style close-up: 1.8 x the landmark box would be larger than the frame
    const { sq, limited } = fitSquare({ cx: 112, cy: 90, side: 300 }, 224, 224);
    assert.ok(limited);
    const border = MAX_CROP_BORDER * sq.side + 1e-9;
    assert.ok(sq.cx - sq.side / 2 >= -border && sq.cx + sq.side / 2 <= 224 + border);
    assert.ok(sq.cy - sq.side / 2 >= -border && sq.cy + sq.side / 2 <= 224 + border);
    assert.ok(Math.abs(sq.side - 224 / (1 - 2 * MAX_CROP_BORDER)) < 1e-9);
  });

  test('preprocessing a close-up video: every frame kept, the log says what was done and how fast', async () => {
    const clip = closeUpClip(11, 3, 24);
    const dir = tempDir();
    await encodeVideo(join(dir, 'closeup.mp4'), clip.frames, 224, 224, 25);
    const out = join(dir, 'ds');
    const before = tf.memory().numTensors;
    const res = await preprocess({ input: join(dir, 'closeup.mp4'), out, resolution: 64, fps: 25 });
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    const r = res.reports[0]!;
    assert.equal(r.status, 'ok');
    assert.equal(r.kept, 24, res.summary);
    assert.ok((r.limited ?? 0) > 0, 'the crop was fitted into the frame');
    assert.ok((r.fps ?? 0) > 0);
    assert.match(res.summary, /frames at [\d.]+ frames\/s/);
    assert.match(
      res.summary,
      /close-up \(the face fills the frame\): the crop was fitted into the frame on 24 of 24 frames/,
    );
    const log = JSON.parse(readFileSync(res.logPath, 'utf8')) as {
      units: { fps: number; detections: number }[];
    };
    assert.ok(log.units[0]!.fps > 0 && log.units[0]!.detections < 24);
    assert.ok(existsSync(join(out, 'manifest.json')));
  });

  test('photos are stills: every face of a photo, each photo on its own', async () => {
    let photo: Frame | null = null;
    for await (const f of decodeFrames(join(DEMO, 'sample1.jpg'), { maxSize: 640 })) photo = f;
    const faces = await detectFaces(det, photo!.rgb, photo!.width, photo!.height, 0.5);
    assert.ok(faces.length >= 1);
    const ref = await det.faceApiReference(photo!.rgb, photo!.width, photo!.height, 0.5);
    const d = meanPointDistance(faces[0]!.landmarks, ref[0]!.landmarks) / faceSize(ref[0]!.landmarks);
    assert.ok(d < 0.03, `vs face-api's chain: ${(100 * d).toFixed(1)}% of the face size`);
  });
});
