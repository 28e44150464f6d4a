// The source warp's own score, no network (docs/evaluation.md "The source warp"): for each held-out
// person of an evaluate-style set, the given frame nearest each target's landmarks, moved onto them
// (data/source_warp.ts), against the real target; beside it, that frame unwarped (the copy baseline),
// and two bounds on what drawing over the warp could reach: the warp with the real target's mouth
// region pasted in (a perfect mouth), and with the real lower face below the nose tip.
//   npx tsx scripts/warp-baseline.ts data/london64 1 1     # T = 1, 1 hold-out frame (London pairs)
//   npx tsx scripts/warp-baseline.ts data/grid64 8 32      # T = 8, 32 hold-out frames (GRID)
import { Dataset, heldOutIdentities, readManifest } from '../src/data/dataset.js';
import { fewShotSet } from '../src/data/episodes.js';
import { nearestFrame, warpFrame } from '../src/data/source_warp.js';
import { ssim } from '../src/eval/metrics.js';
import { LANDMARK_VALUES, mouthMask } from '../src/faces/landmarks.js';

const [dir, tArg, hArg] = process.argv.slice(2);
if (!dir || !tArg || !hArg) {
  console.error('usage: npx tsx scripts/warp-baseline.ts DATASET T HOLDOUT_FRAMES');
  process.exit(2);
}
const ds = Dataset.open(dir);
const held = new Set(heldOutIdentities(readManifest(dir)) ?? []);
const r = ds.resolution;
const image = (data: Uint8Array) => ({ width: r, height: r, data });
const sum = { copy: 0, warp: 0, mouth: 0, lower: 0, n: 0 };
/** `base` with the pixels of `real` where `inside(pixel)` */
const pasted = (base: Uint8Array, real: Uint8Array, inside: (p: number) => boolean) =>
  base.map((v, k) => (inside(Math.floor(k / 3)) ? real[k]! : v));
ds.videos.forEach((v, i) => {
  if (!held.has(v.identity)) return;
  // the evaluation's own split (seed 0): T given frames, disjoint hold-out frames
  const set = fewShotSet(ds, i, Number(tArg), Number(hArg), 0);
  const lms = new Float32Array(set.train.length * LANDMARK_VALUES);
  set.train.forEach((f, j) => lms.set(ds.frameLandmarks(i, f), j * LANDMARK_VALUES));
  for (const h of set.holdout) {
    const target = ds.frameLandmarks(i, h);
    const f = set.train[nearestFrame(lms, set.train.length, target)]!;
    const given = ds.readFrames(i, f, 1).slice();
    const realRgb = ds.readFrames(i, h, 1).slice();
    const real = image(realRgb);
    const warp = warpFrame(given, ds.frameLandmarks(i, f), target, r);
    const mouth = mouthMask(target, r);
    const noseTip = target[33 * 2 + 1]!; // landmark 33's row
    sum.copy += ssim(image(given), real);
    sum.warp += ssim(image(warp), real);
    sum.mouth += ssim(image(pasted(warp, realRgb, (p) => mouth[p]! > 0)), real);
    sum.lower += ssim(image(pasted(warp, realRgb, (p) => Math.floor(p / r) > noseTip)), real);
    sum.n++;
  }
});
if (!sum.n) throw new Error(`${dir} records no held-out people`);
console.log(
  `${dir}: ${sum.n} targets; SSIM copy ${(sum.copy / sum.n).toFixed(3)}, warp ${(sum.warp / sum.n).toFixed(3)}; ` +
    `warp with the real mouth region ${(sum.mouth / sum.n).toFixed(3)}, with the real lower face ${(sum.lower / sum.n).toFixed(3)}`,
);
