/**
 * `talking-heads demo`: the main job on the embedded default data. Renders a procedural
 * talking-head dataset (once; reused afterwards), then meta-learns E, G and D on it for a few
 * minutes in a resumable run folder, with a live progress bar, checkpoints and sample grids.
 * Ctrl-C saves a checkpoint; `--resume RUN` continues.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../data/synthetic/write.js';
import { preset } from '../models/presets.js';
import { metaTrain, resolveMetaConfig } from '../train/meta.js';
import { backendOption, EXIT_STATUSES, intArg } from './options.js';
import { progress } from './progress.js';

export interface DemoOptions {
  backend?: string | undefined;
  preset: string;
  steps: number;
  identities: number;
  seed: number;
  out: string;
  resume?: string | undefined;
}

export async function runDemo(o: DemoOptions, log: (s: string) => void = console.log): Promise<string> {
  const net = preset(o.preset);
  const data = join(o.out, `demo-data-${net.resolution}px-${o.identities}ids-seed${o.seed}`);
  if (!existsSync(join(data, 'manifest.json'))) {
    log(
      `Rendering ${o.identities} procedural talking heads (2 sequences x 32 frames, ${net.resolution}px) into ${data}`,
    );
    const bar = progress('synth', o.identities * 2);
    await writeSyntheticDataset(
      {
        out: data,
        identities: o.identities,
        sequences: 2,
        frames: 32,
        size: net.resolution,
        seed: o.seed,
        frameStep: 2,
        firstIdentity: 0,
        resume: true,
      },
      (done, total) => bar.update(done + (o.identities * 2 - total)),
    );
    bar.stop();
  }
  const cfg = resolveMetaConfig(undefined, {
    data,
    preset: o.preset,
    k: 4,
    batch: 2,
    steps: o.steps,
    seed: o.seed,
    // a short CPU run: faster learning rates than the paper's 5e-5 / 2e-4
    lrEG: 2e-4,
    lrD: 4e-4,
    sampleEvery: 20,
    checkpointEvery: 20,
    out: o.out,
    backend: o.backend,
  });
  let bar: ReturnType<typeof progress> | null = null;
  const res = await metaTrain(cfg, o.resume, {
    log,
    onStart: (step, total) => {
      bar = progress('meta-train', total, step);
    },
    onStep: (step, _t, m) => bar?.update(step, { G: m['lossEG']!, D: m['lossD']!, L1: m['pixel']! }),
  });
  (bar as ReturnType<typeof progress> | null)?.stop();
  if (res.stopped === 'interrupted') {
    log(
      `Interrupted at step ${res.step}; checkpoint saved. Continue with: talking-heads demo --resume ${res.dir}`,
    );
    process.exitCode = 130;
  } else {
    log(
      `Done: ${res.step} steps. Sample grids (per row: K input frames, target landmarks, generated, real) in ${join(res.dir, 'samples')}\n` +
        `Train longer with: talking-heads meta-train --resume ${res.dir} --steps ${res.step * 10}`,
    );
  }
  return res.dir;
}

export function addDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the embedded default data: render procedural talking heads, meta-learn on them',
    )
    .addOption(backendOption())
    .option('--preset <name>', 'network size (small = 64px)', 'small')
    .option('--steps <n>', 'meta-learning steps', intArg(1), 120)
    .option('--identities <n>', 'procedural identities to render', intArg(2), 60)
    .option('--seed <n>', 'random seed', intArg(0), 0)
    .option('-o, --out <dir>', 'folder for the data and numbered run folders', 'runs')
    .option('--resume <runDir>', 'continue a demo run from its last checkpoint')
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (o) => {
      await runDemo(o);
    });
}
