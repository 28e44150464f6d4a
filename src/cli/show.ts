/** `talking-heads show`: a dataset's contact sheet. */
import type { Command } from '@commander-js/extra-typings';
import { join } from 'node:path';
import { contactSheet } from '../data/contact_sheet.js';
import { Dataset } from '../data/dataset.js';
import { writePng } from '../media/png.js';
import { intArg } from './options.js';

export function runShow(
  dir: string,
  out: string | undefined,
  videos: number,
  frames: number,
  log: (s: string) => void = console.log,
): void {
  const ds = Dataset.open(dir);
  const path = out ?? join(dir, 'contact_sheet.png');
  writePng(path, contactSheet(ds, videos, frames));
  log(`${ds.validate()}\nContact sheet (frames with landmarks, landmark images): ${path}`);
}

export function addShow(program: Command): void {
  program
    .command('show')
    .description('write a contact sheet (frames with landmark overlays, landmark images) of a dataset as PNG')
    .argument('<dataset>', 'dataset folder')
    .option('-o, --out <file.png>', 'where to write it (default: DATASET/contact_sheet.png)')
    .option('--videos <n>', 'videos to show', intArg(1, 200), 8)
    .option('--frames <n>', 'frames per video', intArg(1, 16), 3)
    .action((dir, o) => {
      runShow(dir, o.out, o.videos, o.frames);
    });
}
