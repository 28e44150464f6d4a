// The model card's table (issue 10): few-shot quality on held-out procedural identities. Per
// identity: T frames of its first video -> untrained / feed-forward / fine-tuned personal models
// (src/eval/heldout.ts), then the first N frames of its second video synthesised from their
// landmarks and compared with the real frames (SSIM, PSNR; src/eval/metrics.ts).
//   npx tsx scripts/heldout-eval.ts MODEL [--data DIR] [--identities 20] [-T 8] [--frames 32] [--json FILE] [--sheet FILE.png]
import { singleDataset } from '../src/train/config.js';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Dataset } from '../src/data/dataset.js';
import { framesFromDataset } from '../src/data/fewshot.js';
import { rasterizeLandmarks } from '../src/faces/landmarks.js';
import { grid, upscale, writePng, type RgbImage } from '../src/media/png.js';
import { initEngine } from '../src/engine/backend.js';
import {
  disposePersonModels,
  fewShotCases,
  meanScores,
  METHODS,
  personModels,
  scoreAgainst,
  scoreTable,
  untrainedModel,
  type Method,
  type Scores,
} from '../src/eval/heldout.js';
import { FineTuneConfigSchema } from '../src/train/finetune.js';
import { disposeModel, loadMetaModel } from '../src/train/model.js';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    identities: { type: 'string', default: '20' },
    T: { type: 'string', short: 'T', default: '8' },
    frames: { type: 'string', default: '32' },
    json: { type: 'string' },
    sheet: { type: 'string' },
    backend: { type: 'string' },
    epochs: { type: 'string' },
    'lr-g': { type: 'string' },
    'lr-d': { type: 'string' },
    batch: { type: 'string' },
  },
});
const modelPath = positionals[0];
if (!modelPath) {
  console.error(
    'usage: npx tsx scripts/heldout-eval.ts MODEL [--data DIR] [--identities 20] [-T 8] [--frames 32] [--json FILE] [--sheet FILE.png]',
  );
  process.exit(2);
}
const T = Number(o.T);
const engine = await initEngine({ backend: o.backend });
const meta = loadMetaModel(modelPath);
const untrained = untrainedModel(meta);
const ds = Dataset.open(o.data ?? singleDataset(meta.config));
// The model's own data: its held-out identities; any other dataset: all of it (never seen).
const own = o.data === undefined || resolve(o.data) === resolve(singleDataset(meta.config));
const cases = fewShotCases(ds, {
  T,
  frames: Number(o.frames),
  count: Number(o.identities),
  split: own ? meta : undefined,
});
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
const cfg = FineTuneConfigSchema.parse({
  batch: num(o.batch),
  epochs: num(o.epochs),
  lrG: num(o['lr-g']),
  lrD: num(o['lr-d']),
});
const r = meta.net.resolution;
const fb = r * r * 3;
const rows: (Record<Method, Scores> & { identity: string; fineTuneSeconds: number })[] = [];
const tiles: RgbImage[] = [];
const t0 = performance.now();
console.log(
  `${meta.source} (step ${meta.step}) on ${cases.length} held-out identities of ${ds.dir}, T = ${T}, on ${engine.backend}`,
);
for (const c of cases) {
  const frames = framesFromDataset(ds, c.trainVideo, T, 0);
  const pm = await personModels(meta, untrained, frames, cfg);
  const lms = new Float32Array(c.evalFrames.length * 136);
  const real = new Uint8Array(c.evalFrames.length * fb);
  c.evalFrames.forEach((f, i) => {
    lms.set(ds.frameLandmarks(c.evalVideo, f), i * 136);
    real.set(ds.readFrames(c.evalVideo, f, 1), i * fb);
  });
  const row = { identity: c.identity, fineTuneSeconds: pm.seconds['fine-tuned'] } as (typeof rows)[number];
  const shown: RgbImage[][] = [];
  for (const m of METHODS) {
    const s = scoreAgainst(pm.models[m], lms, real);
    row[m] = { ssim: s.ssim, psnr: s.psnr, frames: s.frames };
    shown.push(s.images);
  }
  disposePersonModels(pm);
  rows.push(row);
  // sheet: per identity, 4 hold-out frames as landmarks | untrained | FF | FT | real
  if (rows.length <= 6) {
    for (const f of [0, 8, 16, 24].filter((f) => f < c.evalFrames.length)) {
      const lm = new Uint8Array(fb);
      rasterizeLandmarks(lms.subarray(f * 136, (f + 1) * 136), r, lm);
      tiles.push({ width: r, height: r, data: lm }, ...shown.map((s) => s[f]!), {
        width: r,
        height: r,
        data: real.slice(f * fb, (f + 1) * fb),
      });
    }
  }
  console.log(
    `${c.identity}: ` +
      METHODS.map((m) => `${m} ${row[m].ssim.toFixed(3)} / ${row[m].psnr.toFixed(1)} dB`).join(', ') +
      ` (fine-tuning ${row.fineTuneSeconds.toFixed(1)} s)`,
  );
}
const mean = meanScores(rows);
console.log(`\n${scoreTable(mean, mean['fine-tuned'].frames)}`);
console.log(`(${rows.length} identities, T = ${T}; ${((performance.now() - t0) / 60000).toFixed(1)} min)`);
if (o.json)
  writeFileSync(
    o.json,
    JSON.stringify(
      {
        model: meta.source,
        modelSha256: meta.hash,
        step: meta.step,
        data: ds.dir,
        T,
        backend: engine.backend,
        mean,
        rows,
      },
      null,
      1,
    ) + '\n',
  );
if (o.sheet) writePng(o.sheet, upscale(grid(tiles, 20), 2));
disposeModel(untrained);
disposeModel(meta);
