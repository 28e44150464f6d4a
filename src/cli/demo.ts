/**
 * `talking-heads demo`: the main job on the embedded default. Until the data and network issues
 * land, it trains the engine's probe network (a residual encoder-decoder with the talking-head
 * networks' ops) to reconstruct procedurally generated images, in a resumable run folder with a
 * live progress bar, checkpoints, metrics and a before/after picture.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { grid, toRgb8, writePng, type RgbImage } from '../data/png.js';
import type { Tensor4 } from '../models/layers.js';
import { countParams } from '../models/params.js';
import { probeNet } from '../models/probe_net.js';
import { latestCheckpoint, pruneCheckpoints } from '../train/checkpoint.js';
import { assertFinite, MemoryGuard } from '../train/loop.js';
import { blobImages, loadProbeTrainer, makeProbeTrainer, type ProbeTrainer } from '../train/probe.js';
import { appendJsonl, createRunDir, requireRunDir, writeJson } from '../train/run_dir.js';
import { progress } from './progress.js';

export interface DemoOptions {
  backend?: string | undefined;
  steps: number;
  resolution: number;
  channels: number;
  batch: number;
  seed: number;
  out: string;
  resume?: string | undefined;
  checkpointEvery: number;
}

function pictures(t: ProbeTrainer, x: Tensor4): RgbImage[] {
  const [b, h, w] = x.shape;
  const y = tf.tidy(() => probeNet(t.params, x));
  const xv = x.dataSync();
  const yv = y.dataSync();
  y.dispose();
  const n = h * w * 3;
  const ims: RgbImage[] = [];
  for (let i = 0; i < b; i++) ims.push(toRgb8(xv.subarray(i * n, (i + 1) * n), w, h));
  for (let i = 0; i < b; i++) ims.push(toRgb8(yv.subarray(i * n, (i + 1) * n), w, h));
  return ims;
}

export async function runDemo(o: DemoOptions, log: (s: string) => void = console.log): Promise<string> {
  const engine = await initEngine({ backend: o.backend });
  let dir: string;
  let trainer: ProbeTrainer;
  let start = 0;
  let rngState: number;
  if (o.resume) {
    dir = requireRunDir(o.resume);
    const ck = latestCheckpoint(join(dir, 'checkpoints'));
    if (!ck) throw new Error(`Cannot resume "${dir}": it has no checkpoint yet`);
    const loaded = loadProbeTrainer(ck);
    trainer = loaded.trainer;
    start = loaded.meta.step;
    rngState = loaded.meta.state['rng'] as number;
    // The run's own options win, except a larger --steps, which extends it.
    const saved = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { options: DemoOptions })
      .options;
    Object.assign(o, {
      ...saved,
      backend: o.backend,
      steps: Math.max(o.steps, saved.steps),
      resume: o.resume,
    });
    log(`Resuming ${dir} at step ${start}`);
  } else {
    dir = createRunDir(o.out, `demo-probe-${o.resolution}px`);
    trainer = makeProbeTrainer({ channels: o.channels, resolution: o.resolution }, o.seed, 2e-3);
    rngState = new Rng(o.seed + 1).state;
    writeJson(join(dir, 'config.json'), { command: 'demo', options: o, engine });
  }
  log(
    `Demo: the engine's probe network (${(countParams(trainer.params) / 1e6).toFixed(2)}M params) learns to reconstruct ` +
      `procedural images, ${o.resolution}px, batch ${o.batch}, on the ${engine.backend} backend.\n` +
      `(The talking-head pipeline — synthetic heads, meta-learning, fine-tuning — replaces this demo as it lands.)\n` +
      `Run folder: ${dir}`,
  );
  const rng = new Rng(0);
  rng.state = rngState;
  const fixed = tf.tensor4d(blobImages(new Rng(o.seed + 2), 4, o.resolution), [
    4,
    o.resolution,
    o.resolution,
    3,
  ]);
  if (start === 0) writePng(join(dir, 'before.png'), grid(pictures(trainer, fixed), 4));
  const ckDir = join(dir, 'checkpoints');
  const save = (step: number) => {
    trainer.save(ckDir, step, { rng: rng.state });
    pruneCheckpoints(ckDir, 2);
  };
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  const bar = progress('train', o.steps, start);
  const guard = new MemoryGuard(2);
  let step = start;
  try {
    while (step < o.steps && !interrupted) {
      const x = tf.tensor4d(blobImages(rng, o.batch, o.resolution), [o.batch, o.resolution, o.resolution, 3]);
      const t0 = performance.now();
      const loss = trainer.step(x);
      x.dispose();
      step++;
      assertFinite({ loss }, step);
      appendJsonl(join(dir, 'metrics.jsonl'), {
        step,
        loss,
        secondsPerStep: (performance.now() - t0) / 1000,
      });
      guard.check(step);
      bar.update(step, { loss });
      if (step % o.checkpointEvery === 0) save(step);
      // Let signal handlers (Ctrl-C) run between steps.
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    bar.stop();
    process.removeListener('SIGINT', onSigint);
  }
  save(step);
  writePng(join(dir, 'after.png'), grid(pictures(trainer, fixed), 4));
  fixed.dispose();
  trainer.dispose();
  if (interrupted) {
    log(`Interrupted at step ${step}; checkpoint saved. Continue with: talking-heads demo --resume ${dir}`);
    process.exitCode = 130;
  } else {
    log(
      `Done: ${step} steps. Top row inputs, bottom row reconstructions: ${join(dir, 'before.png')} -> ${join(dir, 'after.png')}`,
    );
  }
  return dir;
}
