/**
 * `talking-heads demo` (`npm run demo`): the real-face model makes a talking head of a real person it
 * never saw from one photo and drives it with their own smile and a held-out GRID speaker's clip
 * (src/demo/demo.ts). `--photos DIR [--driver VIDEO]`: the user's person; `--procedural`: the
 * procedural person and model.
 */
import { FINETUNE_BATCH, FINETUNE_EPOCHS } from '../train/finetune.js';
import type { Command } from '@commander-js/extra-typings';
import { DEMO_REAL_MODEL, runDemo } from '../demo/demo.js';
import { parseFaceChoice } from '../data/fewshot.js';
import { initEngine } from '../engine/backend.js';
import { DEFAULT_MODEL } from '../train/model.js';
import { backendOption, EXIT_STATUSES, intArg } from './options.js';
import { StepBar } from './progress.js';

export function addDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job: a real person the model never saw (London Set person 004), learned from one photo, driven by their own smile and a held-out GRID speaker',
    )
    .option(
      '--model <name|path>',
      `meta-trained model: a shipped model (talking-heads models) or a file (default: ${DEMO_REAL_MODEL}; ${DEFAULT_MODEL} with --procedural)`,
    )
    .option(
      '--procedural',
      'the procedural demo: an unseen procedural person (T = 8) and driver, the procedural model',
    )
    .option('-o, --out <dir>', 'folder for demo.mp4, demo.gif, demo.png and demo-person.safetensors', 'out')
    .option('--seed <n>', 'random seed (with --procedural: which unseen person and driver)', intArg(0), 0)
    .option(
      '-T, --T <n>',
      'frames of the person to learn from (--procedural: 8; --photos: up to this many)',
      intArg(1, 64),
    )
    .option(
      '--frames <n>',
      'frames per drive, 25 per second (default: the whole GRID clip, 75; --procedural: 64)',
      intArg(8, 1000),
    )
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
    .action(async (o) => {
      const engine = await initEngine({ backend: o.backend, threads: o.threads });
      console.log(`Backend: ${engine.backend} (${engine.threads} thread${engine.threads === 1 ? '' : 's'})`);
      // Without oneDNN, fine-tuning is most of the demo's time: half the epochs keep it near 3
      // minutes (80 epochs took 4.7 minutes on wasm here, 41 s on native).
      const slow = engine.backend === 'wasm' || engine.backend === 'cpu';
      const T = o.T ?? (o.procedural ? 8 : o.photos ? 8 : 1);
      const steps = FINETUNE_EPOCHS * Math.ceil(T / FINETUNE_BATCH);
      const halve = slow && o.epochs === undefined && steps > FINETUNE_EPOCHS;
      const epochs = o.epochs ?? (halve ? FINETUNE_EPOCHS / 2 : undefined);
      if (halve)
        console.log(
          `Fine-tuning for ${epochs} epochs on ${engine.backend} (${FINETUNE_EPOCHS} with oneDNN; --epochs ${FINETUNE_EPOCHS} for the full recipe)`,
        );
      const bar = new StepBar('fine-tune');
      const res = await runDemo(
        {
          model: o.model ?? (o.procedural ? DEFAULT_MODEL : DEMO_REAL_MODEL),
          procedural: o.procedural,
          out: o.out,
          seed: o.seed,
          T,
          // the whole GRID clip (3 s) by default
          frames: o.frames ?? (o.procedural ? 64 : 75),
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
