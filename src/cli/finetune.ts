/** `talking-heads fine-tune`: T frames of one person -> a personalised model (paper sec. 3.3). */
import { Command } from '@commander-js/extra-typings';
import { existsSync } from 'node:fs';
import { dirname, join, basename, extname } from 'node:path';
import { Dataset } from '../data/dataset.js';
import {
  framesFromDataset,
  framesFromPhotos,
  framesFromVideo,
  parseFaceChoice,
  type FewShotFrames,
} from '../data/fewshot.js';
import { InputError } from '../core/errors.js';
import { writePng } from '../media/png.js';
import { initEngine } from '../engine/backend.js';
import { disposePersonal, personalModelName, savePersonalModel } from '../models/personal.js';
import { checkOutput } from '../core/output.js';
import {
  anchorWeight,
  disposePersonalised,
  FINETUNE_BATCH,
  FINETUNE_EPOCHS,
  FineTuneConfigSchema,
  personalise,
  personalSheet,
} from '../train/finetune.js';
import { DEFAULT_MODEL, disposeModel, loadMetaModel } from '../train/model.js';
import { Run } from '../train/run.js';
import {
  backendOption,
  EXIT_STATUSES,
  IDENTITY_OPTION,
  intArg,
  numArg,
  PERCEPTUAL_OPTION,
  WARP_OPTION,
  ANCHOR_OPTION,
  trainOption,
  D_STEPS_OPTION,
  HOLD_MASK_OPTION,
} from './options.js';
import { StepBar } from './progress.js';
import { syntheticTag } from '../media/provenance.js';

/** The sheet beside the model file: person.safetensors -> person.png. */
export function sheetPathFor(out: string): string {
  return join(dirname(out), `${basename(out, extname(out))}.png`);
}

export async function runFineTune(
  o: FineTuneCliOptions,
  log: (s: string) => void = console.log,
): Promise<void> {
  const inputs = [o.photos, o.video, o.data].filter((x) => x !== undefined).length;
  if (inputs !== 1)
    throw new InputError(
      'fine-tune needs exactly one of --photos DIR, --video FILE or --data DATASET --video-index N',
    );
  if (!o.out.endsWith('.safetensors'))
    throw new InputError(
      `-o "${o.out}": a personalised model is one .safetensors file (e.g. -o out/person.safetensors)`,
    );
  checkOutput(o.out, Boolean(o.force), false);
  const cfg = FineTuneConfigSchema.parse({
    epochs: o.epochs,
    batch: o.batch,
    lrG: o.lrG,
    lrD: o.lrD,
    identity: o.identity,
    perceptual: o.perceptual,
    warp: o.warp,
    anchor: o.anchor,
    train: o.train,
    dSteps: o.dSteps,
    holdMask: o.holdMask,
    seed: o.seed,
    finetune: o.finetune,
  });
  const engine = await initEngine({ backend: o.backend, threads: o.threads });
  const meta = loadMetaModel(o.model);
  try {
    const res = meta.net.resolution;
    const T = o.T;
    let frames: FewShotFrames;
    if (o.photos) {
      frames = await framesFromPhotos(o.photos, res, {
        face: o.face ? parseFaceChoice(o.face) : undefined,
        max: T,
        log,
      });
      if (T && frames.count < T)
        throw new InputError(
          `"${o.photos}" has ${frames.count} photo(s) with a face, fewer than -T ${T}. Add photos or lower -T.`,
        );
    } else if (o.video) {
      frames = await framesFromVideo(o.video, res, T ?? 8);
    } else {
      if (!existsSync(o.data!)) throw new InputError(`Dataset "${o.data}" does not exist`);
      frames = framesFromDataset(Dataset.open(o.data!), o.videoIndex ?? 0, T ?? 8, o.seed);
    }
    log(
      `${cfg.finetune ? 'Fine-tuning' : 'Feed-forward personalisation of'} ${meta.source} (preset ${meta.config.preset}, step ${meta.step}) ` +
        `on T = ${frames.count} frame(s) of ${frames.source}, on ${engine.backend}`,
    );
    const anchor = anchorWeight(cfg.anchor, meta.net, frames.count);
    if (cfg.finetune)
      log(
        `  trains psi' ${{ decoder: "and G's decoder (its encoder and residual blocks as meta-learned)", all: "and all of G's weights", psi: 'alone of G' }[cfg.train]}, and D` +
          (anchor > 0
            ? `; anchored (weight ${anchor}${cfg.anchor === undefined ? ', the default for one given frame' : ''}) to the feed-forward frames of expressions the frames do not show`
            : ''),
      );
    const run = cfg.finetune
      ? Run.create(o.runs, `finetune-${meta.config.preset}-T${frames.count}`, {
          command: 'fine-tune',
          config: { ...cfg, anchor },
          model: { source: meta.source, hash: meta.hash, step: meta.step, preset: meta.config.preset },
          frames: { source: frames.source, count: frames.count, indices: frames.indices },
          engine,
          output: o.out,
        })
      : null;
    const bar = new StepBar('fine-tune');
    const p = await personalise(meta, frames, cfg, run, {
      onStart: (total) => bar.start(total),
      onStep: (step, _t, m) => bar.step(step, m),
    }).finally(() => run?.close());
    bar.stop();
    try {
      if (p.stopped === 'interrupted') {
        log('Interrupted: nothing written.');
        process.exitCode = 130;
        return;
      }
      if (p.stopped === 'nan') {
        log('Stopped: the loss went NaN/Inf; nothing written. Lower --lr-g / --lr-d.');
        process.exitCode = 3;
        return;
      }
      savePersonalModel(o.out, p.model);
      const sheet = sheetPathFor(o.out);
      const img = personalSheet(frames, p);
      writePng(sheet, img, syntheticTag(personalModelName(o.out, p.model)));
      if (run) run.sample('finetune', img);
      log(
        `Wrote ${o.out} (${p.model.info.mode}, ${p.steps} steps; pixel L1 on the T frames ${p.l1Before.toFixed(3)} -> ${p.l1After.toFixed(3)})\n` +
          `Sheet (frame | landmarks | feed-forward | fine-tuned): ${sheet}` +
          (run ? `\nRun folder: ${run.dir}` : '') +
          `\nAnimate it: talking-heads animate --model ${o.out} --driver VIDEO_OR_LANDMARKS -o out.mp4`,
      );
    } finally {
      disposePersonal(p.model);
      disposePersonalised(p);
    }
  } finally {
    disposeModel(meta);
  }
}

/** The command, its options declared once: their types (below) come from these declarations. */
function fineTuneCommand() {
  return new Command('fine-tune')
    .description(
      'make a personalised model of one person from T frames (paper sec. 3.3); --no-finetune: feed-forward',
    )
    .option(
      '--model <name|path>',
      'meta-trained model: a shipped model (talking-heads models), a model file (export-model), a run folder (its newest intact checkpoint) or a checkpoint folder',
      DEFAULT_MODEL,
    )
    .option('--photos <dir>', 'photos of the person (a folder, or one photo); faces found and cropped')
    .option('--video <file>', 'a video of the person: T frames spread over it')
    .option('--data <dataset>', 'a dataset folder (with --video-index)')
    .option('--video-index <n>', 'which video of --data', intArg(0), 0)
    .option('-T, --T <n>', 'frames to use (1-32 and more; default: all photos, else 8)', intArg(1, 1024))
    .option(
      '--face <largest|N>',
      'in photos with several faces: the largest (default), or the N-th from the left',
    )
    .requiredOption(
      '-o, --out <file.safetensors>',
      'the personalised model to write (a sheet .png goes beside it)',
    )
    .option('--force', 'replace an existing output')
    .option('--no-finetune', 'feed-forward mode: psi = P e_NEW, nothing trained')
    .option('--epochs <n>', 'passes over the T frames (paper: 40)', intArg(1), FINETUNE_EPOCHS)
    .option('--batch <n>', 'frames per step (paper: 8)', intArg(1), FINETUNE_BATCH)
    .option(
      '--lr-g <x>',
      "Adam learning rate of G and psi' (default: 2e-3, measured on held-out identities)",
      numArg,
    )
    .option('--lr-d <x>', 'Adam learning rate of D (default: 3e-3, measured on held-out identities)', numArg)
    .option(...IDENTITY_OPTION)
    .option(...PERCEPTUAL_OPTION)
    .option(...WARP_OPTION)
    .option(...ANCHOR_OPTION)
    .addOption(trainOption())
    .option(...D_STEPS_OPTION)
    .option(...HOLD_MASK_OPTION)
    .option('--seed <n>', 'random seed', intArg(0), 0)
    .option('--runs <dir>', 'folder for the fine-tuning run folder (metrics, sheet)', 'runs')
    .addOption(backendOption())
    .option('--threads <n>', 'threads of the native backend', intArg(1, 256))
    .addHelpText('after', `\n${EXIT_STATUSES}`);
}

/** The options as the command parses them: reading one it does not declare does not compile. */
export type FineTuneCliOptions = ReturnType<ReturnType<typeof fineTuneCommand>['opts']>;

export function addFineTune(program: Command): void {
  program.addCommand(
    fineTuneCommand()
      .copyInheritedSettings(program)
      .action(async (o) => runFineTune(o)),
  );
}
