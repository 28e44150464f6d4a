/**
 * `npm run bench:landmarks`: how fast real video becomes landmarks (issue 11), and how far the fast
 * path's landmarks are from the slow ones. For each clip — a generated VoxCeleb-style close-up
 * (224 x 224, the face filling the frame), a generated wide shot (640 x 360), a close-up made from
 * one of face-api's demo photos, and Megamind.avi (Debian's opencv-doc, 720 x 528) — it runs the
 * preprocessing pipeline (decode, detect/track, landmarks, 256 x 256 crop) three ways:
 *
 *   tracked            the default: detection every few frames, batched landmarks, One Euro smoothing
 *   detect-every-frame the same networks with the detector on every frame and no smoothing (reference)
 *   face-api chain     face-api's own detect-then-landmark call per frame (what preprocessing was)
 *
 * and prints frames/s and the landmark difference from detect-every-frame (mean point distance in %
 * of the face size: mean, 95th percentile, max over frames), and from the generator's own
 * landmarks where the clip is generated.
 *
 *   npm run bench:landmarks -- [--frames 100] [--clips closeup,wide,photo,megamind] [--json FILE]
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../src/engine/backend.js';
import { cropResize, DEFAULT_CROP, squareFor } from '../src/faces/crop.js';
import { FaceDetector } from '../src/faces/detect.js';
import { closeUpClip, wideClip, type Clip } from '../src/synthetic/clips.js';
import { photoCloseUpClip } from '../src/synthetic/photo_clips.js';
import {
  DETECT_EVERY_FRAME,
  faceSize,
  meanPointDistance,
  newTrackStats,
  trackLandmarks,
  type TrackOptions,
} from '../src/faces/track.js';
import { decodeFrames, encodeVideo, probe } from '../src/media/video.js';

const MEGAMIND = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const require = createRequire(import.meta.url);

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string', default: '100' },
    clips: { type: 'string', default: 'closeup,wide,photo,megamind' },
    json: { type: 'string' },
    backend: { type: 'string' },
  },
});
const nFrames = Number(args.frames);
const info = await initEngine({ backend: args.backend });
const det = await FaceDetector.load();
const tmp = mkdtempSync(join(tmpdir(), 'bench-landmarks-'));

interface Run {
  fps: number;
  /** per frame: frame-pixel landmarks of the tracked face, or null */
  landmarks: (Float32Array | null)[];
  /** per frame, every face found (face-api's chain: compared with the reference's face) */
  all?: Float32Array[][];
  detections: number;
}

/** Decode + track + crop, as preprocessing does; returns the frame-pixel landmarks. */
async function tracked(path: string, fps: number, o: Partial<TrackOptions>): Promise<Run> {
  const stats = newTrackStats();
  const landmarks: (Float32Array | null)[] = [];
  const t0 = performance.now();
  for await (const { frame, face } of trackLandmarks(
    decodeFrames(path, { maxFrames: nFrames }),
    det,
    { fps, ...o },
    stats,
  )) {
    if (face && !face.flag) {
      const sq = squareFor(face.landmarks, DEFAULT_CROP);
      cropResize(frame.rgb, frame.width, frame.height, sq, 256);
    }
    landmarks.push(face && !face.flag ? face.landmarks : null);
  }
  return {
    fps: landmarks.length / ((performance.now() - t0) / 1000),
    landmarks,
    detections: stats.detections,
  };
}

async function faceApiChain(path: string): Promise<Run> {
  const all: Float32Array[][] = [];
  const t0 = performance.now();
  for await (const fr of decodeFrames(path, { maxFrames: nFrames })) {
    const faces = await det.faceApiReference(fr.rgb, fr.width, fr.height, 0.5);
    all.push(faces.map((f) => f.landmarks));
  }
  const fps = all.length / ((performance.now() - t0) / 1000);
  return { fps, landmarks: all.map((f) => f[0] ?? null), all, detections: all.length };
}

/** Where a run found several faces, the one nearest the reference's (the same person). */
const sameFace = (r: Run, ref: Run): (Float32Array | null)[] =>
  r.all
    ? r.all.map((faces, i) => {
        const x = ref.landmarks[i];
        if (!x || faces.length === 0) return faces[0] ?? null;
        return faces.reduce((a, b) => (meanPointDistance(b, x) < meanPointDistance(a, x) ? b : a));
      })
    : r.landmarks;

/** Difference (% of the reference's face size) over frames where both have a face. */
function difference(a: (Float32Array | null)[], ref: (Float32Array | null)[]) {
  const d: number[] = [];
  ref.forEach((r, i) => {
    const x = a[i];
    if (r && x) d.push((100 * meanPointDistance(x, r)) / faceSize(r));
  });
  d.sort((p, q) => p - q);
  if (d.length === 0) return { n: 0, mean: NaN, p95: NaN, max: NaN };
  return {
    n: d.length,
    mean: d.reduce((s, v) => s + v, 0) / d.length,
    p95: d[Math.min(d.length - 1, Math.floor(0.95 * d.length))]!,
    max: d[d.length - 1]!,
  };
}

async function clipFile(name: string, clip: Clip): Promise<string> {
  const path = join(tmp, `${name}.mp4`);
  await encodeVideo(path, clip.frames, clip.width, clip.height, clip.fps);
  return path;
}

const clips: { name: string; what: string; path: string; fps: number; truth: Float32Array[] | null }[] = [];
for (const c of args.clips.split(',')) {
  if (c === 'closeup') {
    const clip = closeUpClip(11, 3, nFrames);
    clips.push({
      name: 'closeup',
      what: 'procedural head, 224x224 close-up',
      path: await clipFile(c, clip),
      fps: 25,
      truth: clip.landmarks,
    });
  } else if (c === 'wide') {
    const clip = wideClip(11, 3, nFrames);
    clips.push({
      name: 'wide',
      what: 'procedural head, 640x360 wide shot',
      path: await clipFile(c, clip),
      fps: 25,
      truth: clip.landmarks,
    });
  } else if (c === 'photo') {
    const photo = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample2.jpg');
    const clip = await photoCloseUpClip(det, photo, nFrames);
    clips.push({
      name: 'photo',
      what: 'face-api sample2.jpg, 224x224 close-up (pan/zoom)',
      path: await clipFile(c, clip),
      fps: 25,
      truth: null,
    });
  } else if (c === 'megamind') {
    if (!existsSync(MEGAMIND)) {
      console.log(`megamind: skipped, ${MEGAMIND} not installed (apt-get install opencv-doc)`);
      continue;
    }
    clips.push({
      name: 'megamind',
      what: 'Megamind.avi, 720x528',
      path: MEGAMIND,
      fps: probe(MEGAMIND).fps,
      truth: null,
    });
  } else throw new Error(`unknown clip "${c}"`);
}

console.log(`backend ${info.backend} (${info.threads} threads), up to ${nFrames} frames per clip`);
const pct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)}%` : '-');
const records = [];
for (const c of clips) {
  // warm-up: first calls compile and allocate
  await tracked(c.path, c.fps, { ...DETECT_EVERY_FRAME });
  const fast = await tracked(c.path, c.fps, {});
  const every = await tracked(c.path, c.fps, DETECT_EVERY_FRAME);
  const chain = await faceApiChain(c.path);
  const found = (r: Run) => `${r.landmarks.filter(Boolean).length}/${r.landmarks.length}`;
  console.log(`\n${c.name}: ${c.what}`);
  console.log(
    '  pipeline            frames/s  faces    detections  diff vs detect-every-frame (mean / p95 / max)',
  );
  const row = (name: string, r: Run, ref: Run | null) => {
    const d = ref ? difference(sameFace(r, ref), ref.landmarks) : null;
    console.log(
      `  ${name.padEnd(19)} ${r.fps.toFixed(1).padStart(8)}  ${found(r).padEnd(8)} ${String(r.detections).padStart(10)}  ${d ? `${pct(d.mean)} / ${pct(d.p95)} / ${pct(d.max)}` : '(reference)'}`,
    );
    return d;
  };
  const dFast = row('tracked', fast, every);
  row('detect-every-frame', every, null);
  const dChain = row('face-api chain', chain, every);
  const truth = c.truth;
  if (truth) {
    const t = (r: Run) => difference(r.landmarks, truth);
    console.log(
      `  vs the generator's landmarks: tracked ${pct(t(fast).mean)}, detect-every-frame ${pct(t(every).mean)}, face-api chain ${pct(t(chain).mean)}`,
    );
  }
  records.push({
    clip: c.name,
    description: c.what,
    backend: info.backend,
    fps: { tracked: fast.fps, detectEveryFrame: every.fps, faceApiChain: chain.fps },
    found: { tracked: found(fast), detectEveryFrame: found(every), faceApiChain: found(chain) },
    diffVsDetectEveryFrame: { tracked: dFast, faceApiChain: dChain },
  });
}
if (args.json) writeFileSync(args.json, JSON.stringify(records, null, 1) + '\n');
rmSync(tmp, { recursive: true, force: true });
