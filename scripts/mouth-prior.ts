// Experiment (issue 21): can the inside of an open mouth come from other people? For each held-out
// London person, the neutral photo warped to the smiling landmarks (the source warp), then with the
// inner mouth (inside landmarks 60-67) taken from the training people's smiling photos moved onto
// the target's landmarks: their mean, or the one whose mouth shape is nearest; against the bound of
// the person's own real inner mouth.
//   npx tsx scripts/mouth-prior.ts data/london64 [SHEET.png]
import { Dataset, heldOutIdentities, readManifest } from '../src/data/dataset.js';
import { fewShotSet } from '../src/data/episodes.js';
import { ThinPlateSpline, sampleBilinear } from '../src/data/augment.js';
import { nearestFrame, warpFrame } from '../src/data/source_warp.js';
import { ssim } from '../src/eval/metrics.js';
import { LANDMARK_VALUES, innerMouthMask } from '../src/faces/landmarks.js';
import { grid, type RgbImage } from '../src/media/image.js';
import { writePng } from '../src/media/png.js';

const [dir, sheet] = process.argv.slice(2);
const tiles: RgbImage[] = [];
if (!dir) throw new Error('usage: npx tsx scripts/mouth-prior.ts DATASET');
const ds = Dataset.open(dir);
const held = new Set(heldOutIdentities(readManifest(dir)) ?? []);
const r = ds.resolution;
const image = (data: Uint8Array) => ({ width: r, height: r, data });

/** all 68 points plus the border, so a donor's open mouth maps onto the target's */
const controls = (lm: ArrayLike<number>) => {
  const pts = Array.from(lm);
  for (const t of [0, 0.5, 1])
    pts.push(t * (r - 1), 0, t * (r - 1), r - 1, 0, t * (r - 1), r - 1, t * (r - 1));
  return pts;
};
function warpAll(rgb: Uint8Array, from: ArrayLike<number>, to: ArrayLike<number>): Uint8Array {
  const inv = new ThinPlateSpline(controls(to), controls(from), 1e-3);
  const out = new Uint8Array(r * r * 3);
  for (let y = 0; y < r; y++)
    for (let x = 0; x < r; x++) {
      const [sx, sy] = inv.map(x + 0.5, y + 0.5);
      sampleBilinear(rgb, r, sx - 0.5, sy - 0.5, out, (y * r + x) * 3);
    }
  return out;
}
/** the mouth's 20 points, centred on the mouth and scaled by the corner distance */
const mouthShape = (lm: ArrayLike<number>) => {
  const cx = (lm[96]! + lm[108]!) / 2;
  const cy = (lm[97]! + lm[109]!) / 2;
  const s = Math.hypot(lm[108]! - lm[96]!, lm[109]! - lm[97]!) || 1;
  return Array.from({ length: 40 }, (_, k) => (lm[96 + k]! - (k % 2 ? cy : cx)) / s);
};
const innerArea = (lm: ArrayLike<number>) => {
  let a = 0;
  for (let i = 60, j = 67; i < 68; j = i++) a += lm[2 * j]! * lm[2 * i + 1]! - lm[2 * i]! * lm[2 * j + 1]!;
  return Math.abs(a) / 2;
};

// donors: training people's smiling photos (frame 1) with the mouth open
const donors: { rgb: Uint8Array; lm: Float32Array; shape: number[] }[] = [];
ds.videos.forEach((v, i) => {
  if (held.has(v.identity) || v.frames < 2) return;
  const lm = ds.frameLandmarks(i, 1);
  if (innerArea(lm) < (r / 64) ** 2 * 4) return;
  donors.push({ rgb: ds.readFrames(i, 1, 1).slice(), lm, shape: mouthShape(lm) });
});
console.log(`${donors.length} donors with an open smiling mouth`);

const sum = { warp: 0, real: 0, mean: 0, nearest: 0, n: 0 };
const paste = (base: Uint8Array, from: Uint8Array, m: Float32Array) =>
  base.map((v, k) => Math.round(v + (from[k]! - v) * m[Math.floor(k / 3)]!));
ds.videos.forEach((v, i) => {
  if (!held.has(v.identity)) return;
  const set = fewShotSet(ds, i, 1, 1, 0);
  const lms = new Float32Array(set.train.length * LANDMARK_VALUES);
  set.train.forEach((f, j) => lms.set(ds.frameLandmarks(i, f), j * LANDMARK_VALUES));
  for (const h of set.holdout) {
    const target = ds.frameLandmarks(i, h);
    const f = set.train[nearestFrame(lms, set.train.length, target)]!;
    const warp = warpFrame(ds.readFrames(i, f, 1).slice(), ds.frameLandmarks(i, f), target, r);
    const realRgb = ds.readFrames(i, h, 1).slice();
    const real = image(realRgb);
    const m = innerMouthMask(target, r);
    const moved = donors.map((d) => warpAll(d.rgb, d.lm, target));
    const mean = moved[0]!.map((_, k) => moved.reduce((s, d) => s + d[k]!, 0) / moved.length);
    const shape = mouthShape(target);
    const dist = donors.map((d) => d.shape.reduce((s, x, k) => s + (x - shape[k]!) ** 2, 0));
    const best = moved[dist.indexOf(Math.min(...dist))]!;
    tiles.push(image(warp), image(paste(warp, Uint8Array.from(mean), m)), image(paste(warp, best, m)), real);
    sum.warp += ssim(image(warp), real);
    sum.real += ssim(image(paste(warp, realRgb, m)), real);
    sum.mean += ssim(image(paste(warp, Uint8Array.from(mean), m)), real);
    sum.nearest += ssim(image(paste(warp, best, m)), real);
    sum.n++;
  }
});
if (sheet) writePng(sheet, grid(tiles, 4), 'columns: warp | + mean inner mouth | + nearest donor | real');
const f = (x: number) => (x / sum.n).toFixed(4);
console.log(
  `${sum.n} targets: warp ${f(sum.warp)}; inner mouth from: the mean donor ${f(sum.mean)}, ` +
    `the nearest donor ${f(sum.nearest)}, the person's own real one ${f(sum.real)}`,
);
