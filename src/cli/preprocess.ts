/** `talking-heads preprocess`: real videos and photos -> a dataset. */
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { contactSheet } from '../data/contact_sheet.js';
import { Dataset } from '../data/dataset.js';
import { writePng } from '../media/png.js';
import { DEFAULT_PREPROCESS, preprocess, type PreprocessOptions } from '../data/preprocess.js';
import { findUnits } from '../data/inputs.js';
import { parseShard, shardFromEnv } from '../data/shard.js';
import { probe } from '../media/video.js';
import { initEngine } from '../engine/backend.js';
import { backendOption, EXIT_STATUSES, intArg } from './options.js';
import { progress } from './progress.js';

export async function runPreprocess(
  o: Partial<PreprocessOptions> &
    Pick<PreprocessOptions, 'input' | 'out'> & { backend?: string | undefined; workers?: number },
  log: (s: string) => void = console.log,
): Promise<void> {
  const engine = await initEngine({ backend: o.backend });
  log(
    `Preprocessing ${o.input} -> ${o.out} (faces and landmarks: face-api on ${engine.backend}, ${o.workers ?? 1} worker(s))`,
  );
  // One video: a bar over its frames (sampled frames expected from its duration); else over files.
  const units = findUnits(o.input, o.photosBy);
  let bar: ReturnType<typeof progress> | null = null;
  let frames = 0;
  let onFrame: (() => void) | undefined;
  if (units.length === 1 && units[0]!.kind === 'video') {
    const info = probe(units[0]!.files[0]!);
    const fps = Math.min(o.fps ?? DEFAULT_PREPROCESS.fps, Number.isFinite(info.fps) ? info.fps : Infinity);
    let expected = Number.isFinite(info.duration) ? Math.max(1, Math.round(info.duration * fps)) : 0;
    if (o.maxFrames) expected = Math.min(expected || o.maxFrames, o.maxFrames);
    const frameBar = progress('frames', expected);
    bar = frameBar;
    onFrame = () => frameBar.update(++frames);
  }
  const result = await preprocess(
    { ...o, backend: engine.backend },
    (done, total, r) => {
      if (onFrame) return;
      bar ??= progress('preprocess', total, done);
      bar.update(done, { frames: r.kept });
    },
    onFrame,
  );
  (bar as ReturnType<typeof progress> | null)?.stop();
  log(result.summary);
  const ds = Dataset.open(o.out);
  if (ds.numVideos > 0) {
    const sheet = join(o.out, 'contact_sheet.png');
    writePng(sheet, contactSheet(ds));
    log(`${ds.validate()}\nContact sheet: ${sheet}`);
  }
  log(`Log: ${result.logPath}`);
  if (result.reports.some((r) => r.status === 'failed')) process.exitCode = 2;
}
export function addPreprocess(program: Command): void {
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
    .option(
      '--photos-by <folder|name>',
      'folder: a folder of photos is one person; name: photos with the same file name in different folders are one person (neutral/001.jpg + smiling/001.jpg)',
      'folder',
    )
    .option(
      '--hold-out <N|ids>',
      'identities meta-learning never sees, recorded in the manifest: a number (seeded draw) or a comma list of names',
      '0',
    )
    .option('--resume', 'skip videos already in the output dataset')
    .option('--workers <n>', 'files processed in parallel (default: one per core, at most 4)', intArg(1, 64))
    .option(
      '--shard <I/N>',
      'only shard I of N of the inputs (0-based, by a hash of each path; default: from MPI, Slurm array or TALKING_HEADS_SHARDS + JOB_COMPLETION_INDEX)',
    )
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (input: string, o) => {
      if (!(o.fps > 0)) throw new InvalidArgumentError(`--fps must be positive, got ${o.fps}`);
      if (!(o.minConfidence > 0 && o.minConfidence < 1))
        throw new InvalidArgumentError(`--min-confidence must be in (0, 1)`);
      if (o.photosBy !== 'folder' && o.photosBy !== 'name')
        throw new InvalidArgumentError(`--photos-by must be folder or name, got "${o.photosBy}"`);
      const holdOut = /^\d+$/.test(o.holdOut)
        ? Number(o.holdOut)
        : String(o.holdOut).split(',').filter(Boolean);
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
        photosBy: o.photosBy,
        holdOut,
        shard: o.shard ? parseShard(o.shard) : shardFromEnv(),
        workers: o.workers ?? Math.min(4, availableParallelism()),
      });
    });
}
