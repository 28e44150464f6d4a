/** `talking-heads meta-train`: flags -> validated config -> run. */
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { mpiCommunicator, type Communicator } from '../engine/mpi.js';
import { metaTrain, resolveMetaConfig } from '../train/meta.js';
import { requireRunDir } from '../train/run.js';
import { backendOption, EXIT_STATUSES, intArg, numArg } from './options.js';
import { StepBar } from './progress.js';

export function addMetaTrain(program: Command): void {
  const num = numArg;
  program
    .command('meta-train')
    .description('meta-learn E, G and D on K-shot episodes (Zakharov et al. 2019, sec. 3.2)')
    .option(
      '--data <dir>',
      'dataset folder (talking-heads synth / preprocess); repeat it to train on a mix of datasets',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--mix <w,w,...>', 'sampling weight of each --data dataset (default: equal)', (v: string) =>
      v.split(',').map((x) => {
        const n = Number(x);
        if (!(n >= 0)) throw new InvalidArgumentError(`--mix: "${x}" is not a weight >= 0`);
        return n;
      }),
    )
    .option('--flip <p>', 'augmentation: probability that an episode is mirrored', num)
    .option(
      '--jitter <x>',
      'augmentation: similarity jitter per frame (1: up to 8 deg, 8% scale, 4% shift)',
      num,
    )
    .option(
      '--colour <x>',
      'augmentation: colour jitter per episode (1: 10% gain, 20% contrast, 30% saturation)',
      num,
    )
    .option(
      '--warp <p>',
      "augmentation: probability that a photo person's target is its photo warped to another face's expression (one-photo people: always)",
      num,
    )
    .option('--config <file>', 'JSON or YAML config; flags override it')
    .option('--preset <name>', 'network size: paper (256px), medium (128px), small (64px), tiny (32px)')
    .option('--variant <ft|ff>', 'ft: with L_MCH (for fine-tuning); ff: without (feed-forward)')
    .option('--k <n>', 'frames per episode for the embedder (paper: 8)', intArg(1))
    .option('--batch <n>', 'episodes per step', intArg(1))
    .option('--steps <n>', 'total E/G steps', intArg(1))
    .option('--seed <n>', 'random seed', intArg(0))
    .option('--lr-eg <x>', 'Adam learning rate of E and G (paper: 5e-5)', num)
    .option('--lr-d <x>', 'Adam learning rate of D (paper: 2e-4)', num)
    .option('--pixel <w>', 'weight of the pixel L1 content term', num)
    .option(
      '--identity <w>',
      "weight of the identity-feature content term (face-api's face-recognition ResNet; 0 = off)",
      num,
    )
    .option(
      '--perceptual <w>',
      "weight of the perceptual content term (face-api's MobileNetV1 features; 0 = off)",
      num,
    )
    .option('--vgg19 <file>', 'VGG19 weights (safetensors, torchvision names) for the paper content loss')
    .option('--vggface <file>', 'VGGFace weights (safetensors, torchvision VGG16 names)')
    .option('--fm <w>', 'lambda_FM (paper: 10)', num)
    .option(
      '--adv-warmup <n>',
      'steps of content-only training before L_ADV and L_MCH ramp in over as many (paper: 0)',
      intArg(0),
    )
    .option('--mch <w>', 'lambda_MCH (paper: 80)', num)
    .option('--holdout <fraction>', 'identities held out for evaluation', num)
    .addOption(
      new Option(
        '--precision <p>',
        'bf16: direct convolutions in bfloat16 in all three passes, f32 master weights (CPUs with AVX-512 BF16; else float32 with a message)',
      ).choices(['f32', 'bf16'] as const),
    )
    .option('--sample-every <n>', 'steps between sample grids', intArg(1))
    .option('--checkpoint-every <n>', 'steps between checkpoints', intArg(1))
    .option('-o, --out <dir>', 'folder for numbered run folders')
    .option(
      '--init <model>',
      "start from a meta-trained model's weights (a shipped model's name, a model file, a run) with a fresh optimizer",
    )
    .option('--resume <runDir>', 'continue a run from its last checkpoint (bit for bit)')
    .addOption(backendOption())
    .option(
      '--threads <n>',
      'threads of the native backend (with --distributed: cores / ranks on the machine)',
      intArg(1, 256),
    )
    .option(
      '--distributed <mpi>',
      'data-parallel over MPI: start with `mpirun -np N` (or srun); --batch is then per rank',
    )
    .option(
      '--rank-timeout <s>',
      'with --distributed: seconds to wait for the other ranks before ending the job',
      intArg(1),
      300,
    )
    .addHelpText(
      'after',
      `
Distributed (Open MPI: apt-get install libopenmpi-dev openmpi-bin; npm run build:native):
  mpirun -np 4 npx talking-heads meta-train --data DIR --batch 2 --distributed mpi
  Every rank holds a replica and averages its gradients with the others before each update;
  rank 0 writes the run folder. A run resumes on any number of ranks (or one process).

${EXIT_STATUSES}`,
    )
    .action(async (o) => {
      const weights = [o.pixel, o.fm, o.mch, o.identity, o.perceptual].some((x) => x !== undefined)
        ? { pixel: o.pixel, fm: o.fm, mch: o.mch, identity: o.identity, perceptual: o.perceptual }
        : undefined;
      const data = o.data as string[] | undefined;
      const flags = {
        data: data && data.length === 1 ? data[0] : data,
        mix: o.mix,
        preset: o.preset,
        variant: o.variant,
        k: o.k,
        batch: o.batch,
        steps: o.steps,
        seed: o.seed,
        lrEG: o.lrEg,
        lrD: o.lrD,
        advWarmup: o.advWarmup,
        holdout: o.holdout,
        precision: o.precision,
        sampleEvery: o.sampleEvery,
        checkpointEvery: o.checkpointEvery,
        out: o.out,
        backend: o.backend,
        threads: o.threads,
        vgg19: o.vgg19,
        vggface: o.vggface,
        init: o.init,
      };
      let comm: Communicator | undefined;
      if (o.distributed !== undefined) {
        if (o.distributed !== 'mpi')
          throw new RangeError(`--distributed: "${o.distributed}" is not known; use mpi`);
        comm = mpiCommunicator({ timeoutS: o.rankTimeout as number });
      }
      let cfg;
      if (o.resume) {
        if (!comm || comm.rank === 0) requireRunDir(o.resume); // only rank 0 reads the run folder
        // the run's saved config is used; these flags may extend or move it
        cfg = resolveMetaConfig(undefined, { ...flags, data: flags.data ?? 'unused' });
      } else {
        if (!o.data && !o.config)
          throw new Error('meta-train needs --data DIR (or a --config file that names it)');
        cfg = resolveMetaConfig(o.config, flags);
        const given = (x: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined));
        const augment = given({ flip: o.flip, jitter: o.jitter, colour: o.colour, warp: o.warp });
        if (weights || Object.keys(augment).length)
          cfg = resolveMetaConfig(o.config, {
            ...flags,
            weights: { ...cfg.weights, ...given(weights ?? {}) },
            augment: { ...cfg.augment, ...augment },
          });
      }
      const bar = new StepBar('meta-train');
      const res = await metaTrain(
        cfg,
        o.resume,
        { onStart: (step, total) => bar.start(total, step), onStep: (step, _t, m) => bar.step(step, m) },
        comm ? { comm } : undefined,
      );
      bar.stop();
      comm?.finalize();
      if (comm && comm.rank !== 0) return;
      if (res.stopped === 'interrupted') {
        console.log(
          `Interrupted at step ${res.step}; checkpoint saved. Continue with: talking-heads meta-train --resume ${res.dir}`,
        );
        process.exitCode = 130;
      } else if (res.stopped === 'nan') {
        process.exitCode = 3;
      } else {
        console.log(`Done: ${res.step} steps in ${res.dir} (samples/, metrics.jsonl, checkpoints/)`);
      }
    });
}
