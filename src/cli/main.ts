/**
 * The `talking-heads` command line: a thin layer that validates flags and calls library functions.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { BACKEND_NAMES, ENV_VAR } from '../engine/backend.js';
import { runPreprocess, runShow, runSynth } from './data.js';
import { runDemo } from './demo.js';
import { addMetaTrain } from './meta.js';
import { formatDoctor, runDoctor } from './doctor.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

function backendOption(): Option {
  return new Option(
    '-b, --backend <name>',
    `compute backend: ${BACKEND_NAMES.join(', ')} (env ${ENV_VAR}; default: tensorflow if installed, else wasm)`,
  );
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('talking-heads')
    .description('Few-shot adversarial talking-head models (Zakharov et al. 2019) on TF.js')
    .version(pkg.version)
    .showHelpAfterError();

  program
    .command('doctor')
    .description('report the backend, its training kernels, threads, versions, ffmpeg and face models')
    .addOption(backendOption())
    .option('--json', 'print the report as JSON')
    .action(async (o: { backend?: string; json?: boolean }) => {
      const report = await runDoctor(o.backend);
      console.log(o.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (!report.ok) process.exitCode = 1;
    });

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
    .action(async (o) => {
      await runDemo(o);
    });

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

  addMetaTrain(program, intArg, backendOption);

  program
    .command('preprocess')
    .description('turn videos (any ffmpeg format, VoxCeleb id/video/clip layout) or photos into a dataset')
    .argument('<input>', 'a video, a photo, or a folder of them (a sub-folder of photos = one person)')
    .requiredOption('-o, --out <dir>', 'dataset folder to create (or extend with --resume)')
    .addOption(backendOption())
    .option('--resolution <px>', 'crop size', intArg(16, 1024), 256)
    .option('--fps <n>', 'frames sampled per second of video', Number, 5)
    .option('--max-frames <n>', 'at most this many frames per video (0 = all)', intArg(0), 0)
    .option('--min-frames <n>', 'drop (and report) videos with fewer frames with a face', intArg(1), 1)
    .option('--min-confidence <p>', 'face detector threshold', Number, 0.5)
    .option('--crop-scale <x>', 'crop side / landmark box side', Number, 1.8)
    .option('--resume', 'skip videos already in the output dataset')
    .option('--workers <n>', 'files processed in parallel (default: one per core, at most 4)', intArg(1, 64))
    .action(async (input: string, o) => {
      if (!(o.fps > 0)) throw new InvalidArgumentError(`--fps must be positive, got ${o.fps}`);
      if (!(o.minConfidence > 0 && o.minConfidence < 1))
        throw new InvalidArgumentError(`--min-confidence must be in (0, 1)`);
      await runPreprocess({
        input,
        out: o.out,
        backend: o.backend,
        resolution: o.resolution,
        fps: o.fps,
        maxFrames: o.maxFrames,
        minFrames: o.minFrames,
        minConfidence: o.minConfidence,
        crop: { scale: o.cropScale, shiftUp: 0.1 },
        resume: Boolean(o.resume),
        workers: o.workers ?? Math.min(4, availableParallelism()),
      });
    });

  program
    .command('show')
    .description('write a contact sheet (frames with landmark overlays, landmark images) of a dataset as PNG')
    .argument('<dataset>', 'dataset folder')
    .option('-o, --out <file.png>', 'where to write it (default: DATASET/contact_sheet.png)')
    .option('--videos <n>', 'videos to show', intArg(1, 200), 8)
    .option('--frames <n>', 'frames per video', intArg(1, 16), 3)
    .action((dir: string, o: { out?: string; videos: number; frames: number }) => {
      runShow(dir, o.out, o.videos, o.frames);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    // Expected failures (bad input, bad checkpoint...) print one clear line, not a stack trace.
    const err = e as Error;
    console.error(`talking-heads: ${err.message}`);
    if (process.env['TALKING_HEADS_DEBUG']) console.error(err.stack);
    process.exitCode = process.exitCode || 1;
  }
}
