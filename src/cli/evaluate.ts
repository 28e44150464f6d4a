/** `talking-heads evaluate`: the paper's self-reenactment protocol and tables (src/eval/evaluate.ts). */
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { initEngine } from '../engine/backend.js';
import { DEFAULT_EVALUATE, runEvaluate } from '../eval/evaluate.js';
import { untrainedModel } from '../eval/heldout.js';
import { ArcFace } from '../pretrained/arcface.js';
import { InceptionV3 } from '../pretrained/inception.js';
import { DEFAULT_MODEL, disposeModel, loadMetaModel } from '../train/model.js';
import {
  backendOption,
  EXIT_STATUSES,
  IDENTITY_OPTION,
  intArg,
  PERCEPTUAL_OPTION,
  WARP_OPTION,
  ANCHOR_OPTION,
  trainOption,
  D_STEPS_OPTION,
  HOLD_MASK_OPTION,
} from './options.js';
import { progress } from './progress.js';

const listOfT = (s: string) => {
  const Ts = s.split(',').map(Number);
  if (Ts.some((t) => !Number.isInteger(t) || t < 1))
    throw new InvalidArgumentError(`-T takes positive integers, e.g. 1,8,32`);
  return Ts;
};

export function addEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description(
      "the paper's self-reenactment protocol: FF, FT and baselines at T = 1, 8, 32, printed as its Table 1 and 2",
    )
    .option(
      '--model <name|file>',
      'meta-trained model: a shipped name (talking-heads models) or a file/run',
      DEFAULT_MODEL,
    )
    .option(
      '--data <dir>',
      'test dataset (synth or preprocess output); default: procedural identities the model never saw',
    )
    .option('--videos <n>', 'test videos (one per identity)', intArg(1), DEFAULT_EVALUATE.videos)
    .option('-T <list>', 'few-shot sizes', listOfT, DEFAULT_EVALUATE.Ts)
    .option('--frames <n>', 'hold-out frames per video', intArg(1), DEFAULT_EVALUATE.frames)
    .option('--epochs <n>', "fine-tuning epochs (default: fine-tune's)", intArg(1))
    .option(
      '--inception <file>',
      "Inception-v3 weights (safetensors, pytorch-fid's names): adds the paper's FID column",
    )
    .option('--arcface <file>', "ArcFace IResNet weights (safetensors): adds the paper's CSIM column")
    .option(...IDENTITY_OPTION)
    .option(...PERCEPTUAL_OPTION)
    .option(...WARP_OPTION)
    .option(...ANCHOR_OPTION)
    .addOption(trainOption())
    .option(...D_STEPS_OPTION)
    .option(...HOLD_MASK_OPTION)
    .option(
      '--max-steps <n>',
      'at most this many fine-tuning steps per person',
      intArg(1),
      DEFAULT_EVALUATE.maxSteps,
    )
    .option(
      '-o, --out <dir>',
      'results folder (resumes the (video, T) pairs it already holds)',
      'out/evaluate',
    )
    .addOption(backendOption())
    .addHelpText(
      'after',
      `\nWrites OUT/evaluation.json, OUT/examples-T{T}.png and OUT/units/ (one file per video and T: a rerun\nskips those). FD-faceapi and CSIM-faceapi use face-api's face descriptor (the paper's Inception-v3\nand ArcFace cannot be downloaded here): compare rows, not columns with the paper's.\n\n${EXIT_STATUSES}`,
    )
    .action(async (o) => {
      const engine = await initEngine({ backend: o.backend });
      const meta = loadMetaModel(o.model);
      const untrained = untrainedModel(meta);
      const inception = o.inception ? InceptionV3.load(o.inception) : null;
      const arcface = o.arcface ? ArcFace.load(o.arcface) : null;
      console.log(
        `Model: ${meta.source} (step ${meta.step}); backend ${engine.backend} (${engine.threads} threads)`,
      );
      let bar: ReturnType<typeof progress> | null = null;
      try {
        const t0 = performance.now();
        const r = await runEvaluate(
          meta,
          untrained,
          {
            data: o.data ?? null,
            out: o.out,
            videos: o.videos,
            Ts: o.T,
            frames: o.frames,
            finetune: {
              ...(o.epochs ? { epochs: o.epochs } : {}),
              ...(o.identity !== undefined ? { identity: o.identity } : {}),
              ...(o.perceptual !== undefined ? { perceptual: o.perceptual } : {}),
              ...(o.warp !== undefined ? { warp: o.warp } : {}),
              ...(o.anchor !== undefined ? { anchor: o.anchor } : {}),
              ...(o.train !== undefined ? { train: o.train } : {}),
              ...(o.dSteps !== undefined ? { dSteps: o.dSteps } : {}),
              ...(o.holdMask ? { holdMask: true } : {}),
            },
            maxSteps: o.maxSteps,
            seed: 0,
            inception,
            arcface,
          },
          `${engine.backend}, ${engine.threads} threads`,
          (done, total, u, resumed) => {
            bar ??= progress('evaluate', total, done);
            bar.update(done, {
              T: u.T,
              'FT SSIM': u.methods['fine-tuned'].ssim,
              ...(resumed ? { resumed: 1 } : {}),
            });
          },
        );
        (bar as ReturnType<typeof progress> | null)?.stop();
        console.log(`\n${r.table1}\n\n${r.table2}\n`);
        console.log(
          `Wrote ${r.json}${r.sheets.length ? `, ${r.sheets.join(', ')}` : ''} (${((performance.now() - t0) / 60000).toFixed(1)} min)`,
        );
      } finally {
        inception?.dispose();
        arcface?.dispose();
        disposeModel(untrained);
        disposeModel(meta);
      }
    });
}
