/**
 * `talking-heads demo` (`npm run demo`): the shipped model makes a talking head of a person it never
 * saw from T = 8 frames and drives it (src/demo/demo.ts). `--photos DIR [--driver VIDEO]`: the same
 * with a real person's photos.
 */
import { FINETUNE_EPOCHS } from '../train/finetune.js';
import type { Command } from 'commander';
import { runDemo } from '../demo/demo.js';
import { parseFaceChoice } from '../data/fewshot.js';
import { initEngine } from '../engine/backend.js';
import { DEFAULT_MODEL } from '../train/model.js';
import { backendOption, EXIT_STATUSES, intArg } from './options.js';
import { StepBar } from './progress.js';

interface Opts {
  model: string;
  out: string;
  seed: number;
  T: number;
  frames: number;
  photos?: string;
  face?: string;
  driver?: string;
  epochs?: number;
  scale?: number;
  backend?: string;
  threads?: number;
}

export function addDemo(program: Command): void {
  program
    .command('demo')
    .description(
      "the main job: a person the shipped model never saw, fine-tuned on T = 8 frames, driven by its own and another's motion",
    )
    .option(
      '--model <name|path>',
      'meta-trained model: a shipped model (talking-heads models) or a file',
      DEFAULT_MODEL,
    )
    .option('-o, --out <dir>', 'folder for demo.mp4, demo.gif, demo.png and demo-person.safetensors', 'out')
    .option('--seed <n>', 'which unseen procedural person (and driver)', intArg(0), 0)
    .option('-T, --T <n>', 'frames of the person to learn from', intArg(1, 64), 8)
    .option('--frames <n>', 'frames per drive (25 per second)', intArg(8, 1000), 64)
    .option('--photos <dir>', "a real person's photos (a folder or one photo) instead of a procedural person")
    .option('--face <largest|N>', 'in photos with several faces: the largest, or the N-th from the left')
    .option('--driver <video>', 'drive the person with this video instead of a procedural head (retargeted)')
    .option(
      '--epochs <n>',
      `fine-tuning epochs over the T frames (default: fine-tune's ${FINETUNE_EPOCHS}; half on wasm and cpu, to stay near 3 minutes)`,
      intArg(1),
    )
    .option(
      '--scale <n>',
      'pixels per model pixel in the video and GIF (default: 192 px per picture)',
      intArg(1, 16),
    )
    .addOption(backendOption())
    .option('--threads <n>', 'threads of the native or wasm backend', intArg(1, 256))
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (o: Opts) => {
      const engine = await initEngine({ backend: o.backend, threads: o.threads });
      console.log(`Backend: ${engine.backend} (${engine.threads} thread${engine.threads === 1 ? '' : 's'})`);
      // Without oneDNN, fine-tuning is most of the demo's time: half the epochs keep it near 3
      // minutes (80 epochs took 4.7 minutes on wasm here, 41 s on native).
      const slow = engine.backend === 'wasm' || engine.backend === 'cpu';
      const epochs = o.epochs ?? (slow ? FINETUNE_EPOCHS / 2 : undefined);
      if (slow && o.epochs === undefined)
        console.log(
          `Fine-tuning for ${epochs} epochs on ${engine.backend} (${FINETUNE_EPOCHS} with oneDNN; --epochs ${FINETUNE_EPOCHS} for the full recipe)`,
        );
      const bar = new StepBar('fine-tune');
      const res = await runDemo(
        {
          model: o.model,
          out: o.out,
          seed: o.seed,
          T: o.T,
          frames: o.frames,
          photos: o.photos,
          face: o.face ? parseFaceChoice(o.face) : undefined,
          driver: o.driver,
          epochs,
          scale: o.scale,
        },
        {
          onStart: (total) => bar.start(total),
          onStep: (step, total, m) => {
            bar.step(step, m);
            if (step === total) bar.stop();
          },
        },
      );
      console.log(
        `Done in ${res.seconds.total.toFixed(0)} s (fine-tuning ${res.seconds.fineTune.toFixed(0)} s on ${engine.backend}).`,
      );
    });
}
