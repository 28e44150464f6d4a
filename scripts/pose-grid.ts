// A picture of what a meta-learned model does with new poses: for each chosen video, the embedder
// sees K frames (the first column shows one), and the generator draws other frames of the same video
// from their landmark images alone. Columns per target: landmarks | generated | real.
//   npx tsx scripts/pose-grid.ts RUN_DIR OUT.png [videos=0,1,2] [targets=4] [scale=2]
// Videos are indices into the run's dataset; the script says which of them were held out.
import { singleDataset } from '../src/train/config.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { EpisodeSampler, splitByIdentity } from '../src/data/episodes.js';
import { grid, toRgb8, writePng, type RgbImage } from '../src/media/png.js';
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { powerIteration, spectralNorm } from '../src/models/blocks.js';
import { generator, projectPsi } from '../src/models/networks.js';
import type { ParamTree } from '../src/nn/params.js';
import { latestCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import { netConfigOf, resolveMetaConfig } from '../src/train/meta.js';
import { embedEpisodes } from '../src/train/meta_step.js';

const [runDir, out, videosArg, targetsArg, scaleArg] = process.argv.slice(2);
if (!runDir || !out) {
  console.error('usage: npx tsx scripts/pose-grid.ts RUN_DIR OUT.png [videos=0,1,2] [targets=4] [scale=2]');
  process.exit(2);
}
await initEngine({});
const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as {
  config: Record<string, unknown>;
};
const cfg = resolveMetaConfig(undefined, saved.config);
const net = netConfigOf(cfg);
const ds = Dataset.open(singleDataset(cfg));
const ckDir = latestCheckpoint(join(runDir, 'checkpoints'));
if (!ckDir) throw new Error(`no checkpoint in ${runDir}`);
const ck = loadCheckpoint(ckDir);
const videos = (videosArg ?? '0,1,2').split(',').map(Number);
const targets = Number(targetsArg ?? 4);
const scale = Number(scaleArg ?? 2);
const res = net.resolution;
const k = cfg.k;

const upscale = (im: RgbImage): RgbImage => {
  const w = im.width * scale;
  const h = im.height * scale;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++)
        data[(y * w + x) * 3 + c] =
          im.data[(Math.floor(y / scale) * im.width + Math.floor(x / scale)) * 3 + c]!;
  return { width: w, height: h, data };
};

const tiles: RgbImage[] = [];
const sampler = new EpisodeSampler(ds, k, 0);
tf.tidy(() => {
  const { u, v } = powerIteration(ck.trees['params']!, ck.trees['sn']!, false);
  const p = spectralNorm(ck.trees['params']!, u, v);
  for (const vid of videos) {
    const n = ds.video(vid).frames;
    // K frames from the start of the clip, targets spread over the rest
    const kFrames = [...Array(k).keys()];
    const ts = [...Array(targets).keys()].map((i) => k + Math.floor(((i + 0.5) * (n - k)) / targets));
    const ep = sampler.load({
      videos: ts.map(() => vid),
      kFrames: ts.map(() => kFrames),
      targets: ts,
    });
    const e = embedEpisodes(p['E'] as ParamTree, net, ep.xk, ep.yk, k);
    const x = generator(p['G'] as ParamTree, net, ep.yt, projectPsi(p['G'] as ParamTree, e));
    const img = (t: tf.Tensor, i: number) =>
      upscale(toRgb8(t.dataSync().subarray(i * res * res * 3, (i + 1) * res * res * 3), res, res));
    tiles.push(img(ep.xk, 0));
    for (let i = 0; i < targets; i++) tiles.push(img(ep.yt, i), img(x, i), img(ep.xt, i));
  }
});
writePng(out, grid(tiles, 1 + 3 * targets));
const heldOut = new Set(splitByIdentity(ds, cfg.holdout, cfg.seed).test);
for (const vid of videos)
  console.log(
    `row: video ${vid} (${ds.video(vid).identity}) ${heldOut.has(vid) ? 'HELD OUT (never trained on)' : 'trained on'}`,
  );
console.log(`wrote ${out}: ${videos.length} videos x ${targets} targets, model ${ckDir}`);
