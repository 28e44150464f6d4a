/** `talking-heads animate`: drive a personalised model with landmarks from a video, dataset, track or photo. */
import { Command } from '@commander-js/extra-typings';
import { existsSync } from 'node:fs';
import { animate } from '../animate/animate.js';
import { openDriver } from '../animate/drivers.js';
import { openOutput, outputKind } from '../animate/output.js';
import { checkOutput } from '../core/output.js';
import { InputError } from '../core/errors.js';
import { initEngine } from '../engine/backend.js';
import { disposePersonal, loadPersonalModel } from '../models/personal.js';
import { syntheticTag } from '../media/provenance.js';
import { personalModelName } from '../models/personal.js';
import { listShippedModels } from '../train/model.js';
import { backendOption, EXIT_STATUSES, intArg, positiveArg } from './options.js';
import { progress } from './progress.js';

export async function runAnimate(
  o: AnimateCliOptions,
  log: (s: string) => void = console.log,
): Promise<void> {
  checkOutput(o.out, Boolean(o.force), outputKind(o.out) === 'frames');
  const engine = await initEngine({ backend: o.backend, threads: o.threads });
  if (!existsSync(o.model) && listShippedModels().some((m) => m.name === o.model))
    throw new InputError(
      `"${o.model}" is a shipped meta-trained model, not a person: make a person from it first (talking-heads fine-tune --model ${o.model} --photos DIR -o person.safetensors), then animate --model person.safetensors`,
    );
  const model = loadPersonalModel(o.model);
  try {
    const driver = openDriver(o.driver, { resolution: model.net.resolution, video: o.driverVideo });
    const fps = o.fps ?? driver.fps;
    const writer = openOutput(o.out, {
      fps,
      audio: driver.audio,
      force: Boolean(o.force),
      tag: syntheticTag(personalModelName(o.model, model)),
      watermark: Boolean(o.watermark),
    });
    log(
      `Animating ${o.model} (${model.info.mode}, preset ${model.info.preset}, T = ${model.frames}) with ${driver.kind} ${driver.source} on ${engine.backend} -> ${o.out} (${outputKind(o.out)}, ${fps} fps)`,
    );
    const bar = progress('animate', driver.expectedFrames);
    let report;
    let interrupted = false;
    const onSigint = () => (interrupted = true);
    process.once('SIGINT', onSigint);
    try {
      report = await animate(model, driver, writer, {
        retarget: o.retarget,
        sideBySide: Boolean(o.sideBySide),
        scale: o.scale ?? 1,
        onFrame: (n) => {
          bar.update(n);
          if (interrupted) throw new Error('Interrupted: nothing written.');
        },
      });
      await writer.close();
    } catch (e) {
      writer.abort();
      if (interrupted) process.exitCode = 130;
      throw e;
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSigint);
    }
    log(
      `Wrote ${o.out}: ${report.frames} frames in ${report.seconds.toFixed(1)} s (generator ${report.generatorFps.toFixed(1)} frames/s)` +
        `; landmarks ${report.retargeted ? 'retargeted onto the model face' : 'used as they are'}` +
        (report.noFace
          ? `; ${report.noFace} driver frame(s) without a usable face (none found, or landmarks flagged) held the last pose`
          : '') +
        (report.skipped ? `; ${report.skipped} leading frame(s) without a face left out` : ''),
    );
  } finally {
    disposePersonal(model);
  }
}

/** The command, its options declared once: their types (below) come from these declarations. */
function animateCommand() {
  return new Command('animate')
    .description('drive a personalised model with landmarks (puppeteering); writes MP4, GIF or PNG frames')
    .requiredOption('--model <file>', 'a personalised model (talking-heads fine-tune -o)')
    .requiredOption(
      '--driver <path>',
      'a video (any ffmpeg format), a photo (a still), a landmark track (.json: {"size", "fps", "frames": [[[x,y] x 68] ...]}) or a dataset folder',
    )
    .option('--driver-video <n>', 'with a dataset driver: which video', intArg(0))
    .requiredOption(
      '-o, --out <path>',
      "a video (.mp4 .mov .mkv H.264, .webm VP9, .avi MPEG-4; with the driver's sound), out.gif, or a folder for PNG frames (no extension, or ending in /)",
    )
    .option('--force', 'replace an existing output')
    .option('--retarget', "map the driver's motion onto the model's face (default for another person)")
    .option('--no-retarget', "feed the driver's landmarks as they are")
    .option('--side-by-side', 'driver frame | landmark image | output in one row')
    .option('--watermark', 'draw a visible "SYNTHETIC" mark on every frame (the file is tagged either way)')
    .option('--fps <n>', "frames per second of the output (default: the driver's)", positiveArg(240))
    .option(
      '--scale <n>',
      'enlarge the written frames n times (nearest neighbour; 64px models)',
      intArg(1, 16),
    )
    .addOption(backendOption())
    .option('--threads <n>', 'threads of the native backend', intArg(1, 256))
    .addHelpText('after', `\n${EXIT_STATUSES}`);
}

/** The options as the command parses them: reading one it does not declare does not compile. */
export type AnimateCliOptions = ReturnType<ReturnType<typeof animateCommand>['opts']>;

export function addAnimate(program: Command): void {
  program.addCommand(
    animateCommand()
      .copyInheritedSettings(program)
      .action(async (o) => runAnimate(o)),
  );
}
