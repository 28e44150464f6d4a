// Few-shot self-reenactment on identities the meta-trained model never saw (paper sec. 3.3 / 4):
// per identity, a personalised model from T frames of one of its videos, feed-forward and
// fine-tuned, then hold-out frames of the same video drawn from their landmarks alone. One block
// per identity: a strip of the T frames, then per hold-out frame
//   driver landmarks | feed-forward | fine-tuned | real frame
// and the mean pixel L1 of both against the real frames is printed.
//   npx tsx scripts/fewshot-sheet.ts MODEL_RUN OUT.png [identities=3] [T=8] [holdout=5]
import { singleDataset } from '../src/train/config.js';
import { renderFrames } from '../src/animate/animate.js';
import { Dataset } from '../src/data/dataset.js';
import { splitByIdentity } from '../src/data/episodes.js';
import { framesFromDataset } from '../src/data/fewshot.js';
import { rasterizeLandmarks } from '../src/faces/landmarks.js';
import { grid, upscale, writePng, type RgbImage } from '../src/media/png.js';
import { initEngine } from '../src/engine/backend.js';
import { disposePersonal } from '../src/models/personal.js';
import { disposePersonalised, FineTuneConfigSchema, personalise } from '../src/train/finetune.js';
import { disposeModel, loadMetaModel } from '../src/train/model.js';

const [modelPath, out, idsArg, tArg, holdArg] = process.argv.slice(2);
if (!modelPath || !out) {
  console.error('usage: npx tsx scripts/fewshot-sheet.ts MODEL_RUN OUT.png [identities=3] [T=8] [holdout=5]');
  process.exit(2);
}
const nIds = Number(idsArg ?? 3);
const T = Number(tArg ?? 8);
const nHold = Number(holdArg ?? 5);
await initEngine({});
const meta = loadMetaModel(modelPath);
const ds = Dataset.open(singleDataset(meta.config));
const split = splitByIdentity(ds, meta.config.holdout, meta.config.seed);
const r = meta.net.resolution;
const fb = r * r * 3;
const tiles: RgbImage[] = [];
const cols = 4;
const rows: string[] = [];
const seen = new Set<string>();
const l1 = (a: Uint8Array, b: Uint8Array) =>
  a.reduce((s, x, i) => s + Math.abs(x - b[i]!), 0) / a.length / 127.5;
for (const v of split.test) {
  if (seen.size >= nIds) break;
  const id = ds.video(v).identity;
  if (seen.has(id)) continue;
  seen.add(id);
  const frames = framesFromDataset(ds, v, T, 0);
  const t0 = performance.now();
  const ff = await personalise(meta, frames, FineTuneConfigSchema.parse({ finetune: false }), null);
  const ft = await personalise(meta, frames, FineTuneConfigSchema.parse({}), null);
  const secs = (performance.now() - t0) / 1000;
  const used = new Set(frames.indices);
  const hold = Array.from({ length: ds.video(v).frames }, (_, i) => i).filter((i) => !used.has(i));
  const pick = Array.from({ length: nHold }, (_, i) => hold[Math.floor(((i + 0.5) * hold.length) / nHold)]!);
  const lms = pick.map((f) => ds.frameLandmarks(v, f).slice());
  const outFF = renderFrames(ff.model, lms);
  const outFT = renderFrames(ft.model, lms);
  let eFF = 0;
  let eFT = 0;
  // the T frames, four per row
  for (let t = 0; t < Math.ceil(T / cols) * cols; t++)
    tiles.push(
      t < T
        ? { width: r, height: r, data: frames.rgb.slice(t * fb, (t + 1) * fb) }
        : { width: r, height: r, data: new Uint8Array(fb).fill(255) },
    );
  pick.forEach((f, i) => {
    const real = ds.readFrames(v, f, 1);
    eFF += l1(outFF[i]!.data, real);
    eFT += l1(outFT[i]!.data, real);
    tiles.push({ width: r, height: r, data: rasterizeLandmarks(lms[i]!, r) }, outFF[i]!, outFT[i]!, {
      width: r,
      height: r,
      data: real,
    });
  });
  rows.push(
    `video ${v} (${ds.video(v).id}): pixel L1 on ${nHold} hold-out frames, feed-forward ${(eFF / nHold).toFixed(3)}, fine-tuned ${(eFT / nHold).toFixed(3)} ` +
      `(on the T frames: ${ft.l1Before.toFixed(3)} -> ${ft.l1After.toFixed(3)}; personalisation ${secs.toFixed(1)} s)`,
  );
  for (const p of [ff, ft]) {
    disposePersonal(p.model);
    disposePersonalised(p);
  }
}
writePng(out, upscale(grid(tiles, cols), 2));
console.log(`model ${meta.source} (step ${meta.step}), T = ${T}\n${rows.join('\n')}\nwrote ${out}`);
disposeModel(meta);
