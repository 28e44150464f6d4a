/** `talking-heads compare A B`: SSIM, PSNR and CSIM of two images or two videos, frame by frame. */
import type { Command } from '@commander-js/extra-typings';
import { initEngine } from '../engine/backend.js';
import { compareMedia, compareTable } from '../eval/compare.js';
import { backendOption, EXIT_STATUSES } from './options.js';

export function addCompare(program: Command): void {
  program
    .command('compare')
    .description(
      'score an image or video against a reference: SSIM, PSNR, CSIM-faceapi per frame and their means',
    )
    .argument('<a>', 'an image or video (e.g. a generated one)')
    .argument('<b>', 'the reference, the same size')
    .addOption(backendOption())
    .option('--json', 'print the result as JSON (per frame and means)')
    .option('--per-frame', 'print every frame, not only the means')
    .addHelpText(
      'after',
      `\nThe metrics are evaluate's: SSIM (Wang et al. 2004), PSNR, and CSIM-faceapi (cosine similarity of\nface-api's face descriptors; frames are expected to be face crops).\n\n${EXIT_STATUSES}`,
    )
    .action(async (a, b, o) => {
      await initEngine({ backend: o.backend });
      const r = await compareMedia(a, b);
      console.log(o.json ? JSON.stringify(r, null, 1) : compareTable(r, Boolean(o.perFrame)));
    });
}
