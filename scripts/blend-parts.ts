// What a source-warp G does on held-out people (docs/design.md sec. 3.5), feed-forward at T = 1:
// one row per person of  given | warp | G's drawing | mask (white = the warp) | output | real,
// with the mean SSIM of the output, the warp alone and the drawing alone against the real frame.
//   npx tsx scripts/blend-parts.ts MODEL DATASET OUT.png [people=12]
// DATASET: a photo-pair set with a recorded held-out split (data/london64); a sheet of its people
// keeps the set's LICENSE beside it. The output and drawing columns are synthetic.
import { Dataset, heldOutIdentities, readManifest } from '../src/data/dataset.js';
import { fewShotSet } from '../src/data/episodes.js';
import { framesFromDatasetAt } from '../src/data/fewshot.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { ssim } from '../src/eval/metrics.js';
import { grid, toRgb8, upscale, writePng, type RgbImage } from '../src/media/png.js';
import { generatorParts } from '../src/models/networks.js';
import { withoutProjection } from '../src/models/personal.js';
import type { ParamTree } from '../src/nn/params.js';
import { fewShotInit, framePairs, normalisedMeta, sourceFramesOf } from '../src/train/finetune.js';
import { disposeModel, loadMetaModel, resolveModel } from '../src/train/model.js';

const [modelArg, dir, out, nArg] = process.argv.slice(2);
if (!modelArg || !dir || !out) {
  console.error('usage: npx tsx scripts/blend-parts.ts MODEL DATASET OUT.png [people=12]');
  process.exit(2);
}
await initEngine();
const meta = loadMetaModel(resolveModel(modelArg));
if (!meta.net.sourceWarp) throw new Error(`${modelArg} has no source warp: nothing to take apart`);
const ds = Dataset.open(dir);
const held = new Set(heldOutIdentities(readManifest(dir)) ?? []);
const r = ds.resolution;
const G = withoutProjection(normalisedMeta(meta)['G'] as ParamTree);
const image = (t: tf.Tensor) => toRgb8(t.dataSync(), r, r);
const cells: RgbImage[] = [];
const sum = { out: 0, warp: 0, drawn: 0, mask: 0, n: 0 };
for (let i = 0; i < ds.videos.length && sum.n < Number(nArg ?? 12); i++) {
  if (!held.has(ds.videos[i]!.identity)) continue;
  // the evaluation's split (seed 0): the given frame, and the hold-out frame as the target
  const set = fewShotSet(ds, i, 1, 1, 0);
  const given = framesFromDatasetAt(ds, i, set.train);
  const gp = framePairs(given, [0], null);
  const tp = framePairs(framesFromDatasetAt(ds, i, set.holdout), [0], sourceFramesOf(given));
  const { psi, eNew, wPrime } = fewShotInit(meta, gp);
  const [x, drawn, m] = tf.tidy(() => {
    const q = generatorParts(G, meta.net, tp.yt, psi, {}, tp.wt);
    return [q.x, q.drawn!, q.mask!];
  });
  const mask = tf.tidy(() => tf.sub(tf.mul(tf.tile(m!, [1, 1, 1, 3]), 2), 1));
  const row = [gp.xt, tp.wt!, drawn!, mask, x!, tp.xt].map(image);
  const real = row[5]!;
  sum.out += ssim(row[4]!, real);
  sum.warp += ssim(row[1]!, real);
  sum.drawn += ssim(row[2]!, real);
  sum.mask += tf.tidy(() => tf.mean(m!).dataSync()[0]!);
  sum.n++;
  cells.push(...row.map((im) => upscale(im, 2)));
  tf.dispose([psi, eNew, wPrime, x!, drawn!, m!, mask, gp.xt, gp.yt, tp.xt, tp.yt, tp.wt!]);
}
if (!sum.n) throw new Error(`${dir} records no held-out people`);
const f = (v: number) => (v / sum.n).toFixed(3);
console.log(
  `${sum.n} people: SSIM output ${f(sum.out)}, warp alone ${f(sum.warp)}, drawing alone ${f(sum.drawn)}; mean mask ${f(sum.mask)}`,
);
writePng(out, grid(cells, 6));
disposeModel(meta);
