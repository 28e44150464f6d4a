/** `talking-heads synth`: procedural talking heads, the embedded default data. */
import type { Command } from '@commander-js/extra-typings';
import { join } from 'node:path';
import { contactSheet } from '../data/contact_sheet.js';
import { Dataset } from '../data/dataset.js';
import { writePng } from '../media/png.js';
import { writeSyntheticDataset, type SynthOptions } from '../synthetic/write.js';
import { intArg } from './options.js';
import { progress } from './progress.js';
import { syntheticTag } from '../media/provenance.js';

export async function runSynth(o: SynthOptions, log: (s: string) => void = console.log): Promise<void> {
  const t0 = performance.now();
  const total = o.identities * o.sequences;
  log(
    `Rendering ${o.identities} identities x ${o.sequences} sequences x ${o.frames} frames at ${o.size}px into ${o.out}`,
  );
  const bar = progress('synth', total);
  try {
    await writeSyntheticDataset(o, (done, n) => bar.update(done + (total - n), {}));
  } finally {
    bar.stop();
  }
  const ds = Dataset.open(o.out);
  const sheet = join(o.out, 'contact_sheet.png');
  writePng(sheet, contactSheet(ds), syntheticTag('the procedural renderer'));
  log(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${ds.validate()}\nContact sheet: ${sheet}`);
}

export function addSynth(program: Command): void {
  program
    .command('synth')
    .description('write a dataset of procedural talking heads (the embedded default data)')
    .requiredOption('-o, --out <dir>', 'dataset folder to create')
    .option('--identities <n>', 'number of identities', intArg(1), 100)
    .option('--sequences <n>', 'sequences (videos) per identity', intArg(1), 2)
    .option('--frames <n>', 'frames per sequence', intArg(1), 32)
    .option('--size <px>', 'frame size', intArg(16, 1024), 128)
    .option('--frame-step <n>', 'use every n-th frame of the 25 fps motion', intArg(1), 2)
    .option('--first-identity <n>', 'index of the first identity (disjoint test sets)', intArg(0), 0)
    .option('--seed <n>', 'generator seed', intArg(0), 0)
    .option('--workers <n>', 'render threads (default: one per core)', intArg(1, 64))
    .option('--resume', 'keep the videos an interrupted run wrote and add the rest')
    .action(async (o) => {
      await runSynth({ ...o, resume: Boolean(o.resume) });
    });
}
