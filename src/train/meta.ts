/**
 * The meta-learning run (design.md sec. 5): config -> run folder -> episodes -> MetaTrainer steps,
 * with progress, metrics (JSONL + TensorBoard), sample grids, checkpoints (every N steps, on Ctrl-C),
 * bit-for-bit resume, and a clean stop on NaN/Inf that keeps the last good checkpoint.
 *
 *   runs/00004-meta-small-ft/
 *     config.json  metrics.jsonl  events.out.tfevents.*  samples/step-00000500.png  checkpoints/step-*
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { disposeEpisode, EpisodeSampler, slicePlan, type EpisodeBatch } from '../data/episodes.js';
import { DataMix } from '../data/mix.js';
import { grid, toRgb8, type RgbImage } from '../data/png.js';
import { initEngine, type EngineInfo } from '../engine/backend.js';
import { localRanks, type Communicator } from '../engine/mpi.js';
import { tf } from '../engine/tf.js';
import { countParams, disposeTree, type ParamTree } from '../models/params.js';
import { PRESETS } from '../models/presets.js';
import { listCheckpoints, matchTree, type LoadedCheckpoint } from './checkpoint.js';
import { DataParallel, shareJson } from './distributed.js';
import { MemoryGuard, nonFinite } from './loop.js';
import { embedEpisodes, initMetaParams, MetaTrainer, type MetaBatch, type MetaMetrics } from './meta_step.js';
import { disposeModel, loadMetaModel, type MetaModel } from './model.js';
import { Run } from './run.js';
import { dataDirs, MetaConfigSchema, netConfigOf, type MetaConfig } from './config.js';

export { MetaConfigSchema, netConfigOf, type MetaConfig };

/** Reads a JSON or YAML config file, overlays flags, validates; errors name the bad key. */
export function resolveMetaConfig(file: string | undefined, flags: Record<string, unknown>): MetaConfig {
  let base: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) throw new Error(`Config file "${file}" does not exist`);
    const text = readFileSync(file, 'utf8');
    try {
      base = (file.endsWith('.yaml') || file.endsWith('.yml') ? parseYaml(text) : JSON.parse(text)) as Record<
        string,
        unknown
      >;
    } catch (e) {
      throw new Error(`Config file "${file}" does not parse: ${(e as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  const parsed = MetaConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new RangeError(`Invalid config at "${i.path.join('.') || '(root)'}": ${i.message}`);
  }
  const c = parsed.data;
  if (c.variant === 'ff') c.weights.mch = 0; // FF: meta-trained without L_MCH (sec. 3.2)
  if (!(c.preset in PRESETS))
    throw new RangeError(`Unknown preset "${c.preset}". Presets: ${Object.keys(PRESETS).join(', ')}`);
  return c;
}

/** The factor on L_ADV's weights at (1-based) `step`: 0 for `warmup` steps, then a linear ramp to 1. */
export function advScale(step: number, warmup: number): number {
  if (warmup <= 0) return 1;
  return Math.min(1, Math.max(0, (step - warmup) / warmup));
}

export interface MetaRunResult {
  dir: string;
  step: number;
  last: MetaMetrics | null;
  stopped: 'done' | 'interrupted' | 'nan';
}

interface Hooks {
  log?: (s: string) => void;
  /** called once before the first step, with the step the run starts from */
  onStart?: (step: number, total: number) => void;
  onStep?: (step: number, total: number, m: MetaMetrics) => void;
  /** resolves to true to stop after the current step (tests use it to simulate Ctrl-C) */
  shouldStop?: (step: number) => boolean;
}

function toBatch(e: EpisodeBatch, colOf: Map<number, number>): MetaBatch {
  return {
    xk: e.xk,
    yk: e.yk,
    xt: e.xt,
    yt: e.yt,
    column: tf.tensor1d(
      e.plan.videos.map((v) => colOf.get(v)!),
      'int32',
    ),
  };
}

/** Sample grid: per episode (up to 3), K inputs (up to 4), the target's landmark image, output, real. */
export function sampleGrid(trainer: MetaTrainer, b: MetaBatch, res: number): RgbImage {
  const fake = trainer.generate(b);
  const k = trainer.k;
  const rows = Math.min(3, b.xt.shape[0]);
  const shown = Math.min(4, k);
  const img = (t: tf.Tensor, i: number) =>
    toRgb8(t.dataSync().subarray(i * res * res * 3, (i + 1) * res * res * 3), res, res);
  const tiles: RgbImage[] = [];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < shown; j++) tiles.push(img(b.xk, r * k + j));
    tiles.push(img(b.yt, r), img(fake, r), img(b.xt, r));
  }
  fake.dispose();
  return grid(tiles, shown + 3);
}

/**
 * Data-parallel training (issue 14): `comm` makes this process one rank of N. Rank 0 owns the run
 * folder (logs, samples, checkpoints) and the starting state, which it broadcasts; every rank loads
 * its share of each step's episodes and the gradients are averaged before every update
 * (distributed.ts). `cfg.batch` is then the episodes per step of one rank; the run's config.json
 * holds the global batch, so it resumes on any number of ranks (or on one process).
 */
export interface DistributedOptions {
  comm: Communicator;
}

export async function metaTrain(
  cfgIn: MetaConfig,
  resumeDir?: string,
  hooks: Hooks = {},
  distributed?: DistributedOptions,
): Promise<MetaRunResult> {
  const comm = distributed?.comm;
  const lead = !comm || comm.rank === 0; // the rank that writes
  const log = lead ? (hooks.log ?? console.log) : () => {};
  let cfg = cfgIn;
  let run: Run | null = null;
  let ck: LoadedCheckpoint | null = null;
  if (resumeDir && lead) {
    run = Run.open(resumeDir, { keepCheckpoints: cfgIn.keepCheckpoints, log });
    if (listCheckpoints(run.checkpointsDir).length === 0)
      throw new Error(`Cannot resume "${resumeDir}": no checkpoint in it yet`);
    // The run's own config wins; a larger --steps extends it; backend and threads may change.
    const saved = MetaConfigSchema.parse(
      (JSON.parse(readFileSync(join(resumeDir, 'config.json'), 'utf8')) as { config: unknown }).config,
    );
    cfg = {
      ...saved,
      steps: Math.max(saved.steps, cfgIn.steps),
      backend: cfgIn.backend ?? saved.backend,
      threads: cfgIn.threads ?? saved.threads,
    };
  } else if (comm && lead) cfg = { ...cfg, batch: cfg.batch * comm.size }; // the global batch
  if (comm) {
    // Every rank trains with rank 0's config; the cores of a machine are shared among its ranks.
    cfg = await shareJson(comm, lead ? cfg : undefined, 'the config');
    cfg = {
      ...cfg,
      threads: cfgIn.threads ?? cfg.threads ?? Math.max(1, Math.floor(cpus().length / localRanks())),
    };
  }
  const globalBatch = cfg.batch;
  const share = comm ? new DataParallel(comm, globalBatch) : null;
  // The engine first: loading tensors before it is chosen would start TF.js's default backend.
  const engine: EngineInfo = await initEngine({ backend: cfg.backend, threads: cfg.threads });
  if (run) ck = run.latestIntact({ setAside: true });
  const net = netConfigOf(cfg);
  const ds = new DataMix(dataDirs(cfg), cfg.mix);
  if (ds.resolution !== net.resolution) {
    throw new RangeError(
      `Dataset "${ds.dir}" is ${ds.resolution}px but preset "${cfg.preset}" is ${net.resolution}px (make data with --size ${net.resolution})`,
    );
  }
  const dataHash = ds.hash();
  if (share) {
    const rootHash = await shareJson(share.comm, lead ? dataHash : undefined, 'the dataset hash');
    if (rootHash !== dataHash)
      throw new Error(
        `rank ${share.rank}: the dataset "${ds.dir}" differs from rank 0's (manifest hash); every rank needs the same data`,
      );
  }
  if (ck && ck.meta.dataManifestHash !== dataHash) {
    throw new Error(
      `Cannot resume "${resumeDir}": its dataset "${ds.dir}" changed since the checkpoint (manifest hash differs)`,
    );
  }
  const split = ds.split(cfg.holdout, cfg.seed);
  // Every training video the episodes can use gets a column of W: videos of two frames or more, and
  // one-frame videos (a single photo) when the warp can make their second frame.
  const samplerOptions = { weights: ds.poolWeights(split.train), augment: cfg.augment };
  const sampler = new EpisodeSampler(ds, cfg.k, cfg.seed + 1, split.train, samplerOptions);
  const pool = sampler.pool;
  const colOf = new Map(pool.map((v, i) => [v, i]));
  const skipped = split.train.length - pool.length;
  const trainer = new MetaTrainer(net, cfg.k, cfg.weights, cfg, initMetaParams(net, pool.length, cfg.seed), {
    vgg19: cfg.vgg19,
    vggface: cfg.vggface,
  });
  let step = 0;
  let init: { source: string; sha256: string; step: number; newColumns?: number } | undefined;
  if (lead && !run && cfg.init) {
    const m = loadMetaModel(cfg.init);
    try {
      if (m.config.preset !== cfg.preset || JSON.stringify(m.net) !== JSON.stringify(net))
        throw new RangeError(
          `--init "${cfg.init}" is preset ${m.config.preset} (${m.net.resolution}px), this run is ${cfg.preset} (${net.resolution}px): use the model's preset`,
        );
      disposeTree(trainer.params);
      disposeTree(trainer.sn);
      trainer.params = m.params;
      trainer.sn = m.sn;
      const sameData =
        m.columns === pool.length && JSON.stringify(m.config.data) === JSON.stringify(cfg.data);
      if (!sameData) initColumns(trainer, m, ds, pool, cfg.k, log);
      init = {
        source: m.source,
        sha256: m.hash,
        step: m.step,
        ...(sameData ? {} : { newColumns: pool.length }),
      };
    } catch (e) {
      disposeModel(m);
      trainer.dispose();
      throw e;
    }
    log(`Starting from ${m.source} (step ${m.step}; fresh optimizer state)`);
  }
  if (run && ck) {
    try {
      const what = `checkpoint of "${run.dir}"`;
      const params = matchTree(ck.trees['params'], trainer.params, what);
      const sn = matchTree(ck.trees['sn'], trainer.sn, `${what} (spectral norm)`);
      const m = matchTree(ck.trees['adam_m'], trainer.params, `${what} (optimizer)`);
      const v = matchTree(ck.trees['adam_v'], trainer.params, `${what} (optimizer)`);
      disposeTree(trainer.params);
      disposeTree(trainer.sn);
      trainer.params = params;
      trainer.sn = sn;
      trainer.adam.load({ m, v, steps: ck.meta.state['adamSteps'] as Record<string, number> });
      sampler.rng.state = ck.meta.state['samplerRng'] as number;
      step = ck.meta.step;
    } catch (e) {
      for (const t of Object.values(ck.trees)) disposeTree(t);
      trainer.dispose();
      run.close();
      throw e;
    }
    log(`Resuming ${run.dir} at step ${step}`);
  } else if (lead) {
    run = Run.create(
      cfg.out,
      `meta-${cfg.preset}-${cfg.variant}`,
      {
        command: 'meta-train',
        config: cfg,
        ...(init ? { init } : {}),
        network: net,
        engine,
        ...(comm ? { distributed: { ranks: comm.size, library: comm.library, globalBatch } } : {}),
        data: {
          dir: cfg.data,
          ...(ds.parts.length > 1
            ? {
                mix: ds.parts.map((p, k) => ({
                  dir: p.dir,
                  weight: ds.weights[k],
                  videos: p.numVideos,
                  trainVideos: pool.filter((v) => ds.locate(v).part === k).length,
                })),
              }
            : {}),
          manifestHash: dataHash,
          trainVideos: pool.length,
          heldOutVideos: split.test.length,
          heldOutIdentities: [...new Set(split.test.map((v) => ds.video(v).identity))],
          ...(skipped
            ? { unusable: `${skipped} one-frame videos (no warp to make their second frame)` }
            : {}),
        },
        augment: cfg.augment,
        parameters: {
          E: countParams(trainer.params['E'] as ParamTree),
          G: countParams(trainer.params['G'] as ParamTree),
          D: countParams(trainer.params['D'] as ParamTree),
        },
        contentLoss: trainer.content.describe(cfg.weights),
      },
      { keepCheckpoints: cfg.keepCheckpoints, log },
    );
  }
  let dir = run?.dir ?? '';
  let savedStep = step;
  if (share) {
    // Rank 0's starting state (fresh, --init or a checkpoint) on every rank: identical replicas.
    const s = await shareJson(
      share.comm,
      lead ? { dir, step, samplerRng: sampler.rng.state, adamSteps: trainer.adam.state().steps } : undefined,
      'the run state',
    );
    ({ dir, step } = s);
    savedStep = step;
    sampler.rng.state = s.samplerRng;
    await shareTrainerState(share, trainer, s.adamSteps);
    trainer.reducer = share.reducer<MetaBatch>({
      path: 'D.proj.W',
      columns: (b) => [...b.column.dataSync()],
    });
    share.comm.onTerminate(() =>
      lead
        ? `Stopped during step ${step + 1}; the last checkpoint (step ${savedStep}) in ${dir} is intact. ` +
          `Resume on any number of ranks: mpirun -np N npx talking-heads meta-train --distributed mpi --resume ${dir}`
        : '',
    );
  }
  const ranks = share
    ? `, ${share.size} ranks (${share.end - share.start} episodes on rank 0; ${share.comm.library})`
    : '';
  log(
    `Meta-learning (${cfg.variant.toUpperCase()}) preset ${cfg.preset} ${net.resolution}px, K=${cfg.k}, batch ${globalBatch}${ranks}, ` +
      `${pool.length} training videos, on ${engine.backend} (${engine.threads} threads)\nRun folder: ${dir}`,
  );
  const save = (): boolean => {
    if (!run) return true;
    const { m, v, steps } = trainer.adam.state();
    const ok = run.checkpoint(
      step,
      { params: trainer.params, sn: trainer.sn, adam_m: m, adam_v: v },
      {
        config: cfg,
        state: { adamSteps: steps, samplerRng: sampler.rng.state, columns: pool },
        dataManifestHash: dataHash,
      },
    );
    if (ok) savedStep = step;
    return ok;
  };
  /** Before a checkpoint: replicas that floating point made differ get rank 0's weights again. */
  const syncReplicas = async (): Promise<void> => {
    if (!share) return;
    const { m, v, steps } = trainer.adam.state();
    if (!(await share.replicasDiffer([trainer.params, trainer.sn, m, v]))) return;
    log(`\nReplicas differed at step ${step} (floating point); rank 0's weights broadcast to all`);
    await shareTrainerState(share, trainer, steps);
  };
  const nanStop = (why: string): 'nan' => {
    log(`\nStopped: ${why}. The last good checkpoint is kept; lower the learning rates and --resume.`);
    return 'nan';
  };
  // A fixed batch for sample grids, so pictures of different steps are comparable.
  const fixedEp = lead
    ? new EpisodeSampler(ds, cfg.k, cfg.seed + 99, split.train, samplerOptions).next(
        Math.min(3, Math.max(1, globalBatch)),
      )
    : null;
  const fixed = fixedEp ? toBatch(fixedEp, colOf) : null;
  // A fresh run saves step 0, so there is always a good checkpoint to go back to.
  if (step === 0) save();
  const guard = new MemoryGuard(2);
  let stopped: MetaRunResult['stopped'] = 'done';
  let last: MetaMetrics | null = null;
  let deadFor = 0;
  const { start, end } = share ?? { start: 0, end: globalBatch };
  if (lead) hooks.onStart?.(step, cfg.steps);
  try {
    while (step < cfg.steps) {
      // The global batch's plan on every rank (same stream); each rank loads only its own episodes.
      const plan = sampler.plan(globalBatch);
      const ep = sampler.load(slicePlan(plan, start, end));
      const b = toBatch(ep, colOf);
      const ts = performance.now();
      const scale = advScale(step + 1, cfg.advWarmup);
      let m = await trainer.step(b, scale);
      if (cfg.advWarmup > 0) m['advScale'] = scale;
      disposeEpisode(ep);
      b.column.dispose();
      if (share) m = { ...(await share.average(m)), ...share.takeStats() };
      const bad = nonFinite(m);
      if (bad) {
        stopped = nanStop(`non-finite loss at step ${step + 1} (${bad})`);
        break;
      }
      step++;
      last = m;
      deadFor = m['eAlive'] === 0 ? deadFor + 1 : 0;
      if (deadFor === 50)
        log(
          `\nWarning: every embedding entry has been 0 for 50 steps (E's ReLU died), so G no longer sees ` +
            `the identity. Lower --mch, lengthen --adv-warmup or use --variant ff.`,
        );
      m['secondsPerStep'] = (performance.now() - ts) / 1000;
      guard.check(step);
      if (step % cfg.checkpointEvery === 0) await syncReplicas();
      // 0: go on, 1: interrupted, 2: non-finite weights (rank 0 decides; every rank follows)
      let verdict = 0;
      if (run) {
        if (step % cfg.logEvery === 0 || step === cfg.steps) run.metrics(step, m);
        hooks.onStep?.(step, cfg.steps, m);
        if (step % cfg.sampleEvery === 0 || step === cfg.steps)
          run.sample(step, sampleGrid(trainer, fixed!, net.resolution));
        if (step % cfg.checkpointEvery === 0 && !save()) verdict = 2;
        else {
          if (hooks.shouldStop?.(step)) run.requestStop();
          if (await run.shouldStop()) verdict = 1;
        }
      }
      if (share) verdict = await share.fromRoot(verdict, 'the go-on decision');
      if (verdict === 2) {
        stopped = nanStop(`non-finite weights after step ${step}`);
        break;
      }
      if (verdict === 1) {
        stopped = 'interrupted';
        break;
      }
    }
    if (stopped !== 'nan') {
      await syncReplicas();
      if (!save()) stopped = nanStop(`non-finite weights after step ${step}`);
    }
  } finally {
    run?.close();
    if (fixedEp) {
      disposeEpisode(fixedEp);
      fixed!.column.dispose();
    }
    trainer.dispose();
  }
  return { dir, step, last, stopped };
}

/**
 * `--init` on data other than the model's own: D's W gets one new column per training video of this
 * run and the old ones are dropped. A model meta-learned with L_MCH has its columns in the embedding's
 * space (sec. 3.2: W_i is matched to e_i), so W_i starts as video i's embedding (the VT port's
 * init_Wi); an FF model's columns bear no relation to embeddings, so each starts as the mean old
 * column (the score D gave an average training video).
 */
function initColumns(
  trainer: MetaTrainer,
  m: MetaModel,
  ds: DataMix,
  pool: readonly number[],
  k: number,
  log: (s: string) => void,
): void {
  const D = trainer.params['D'] as ParamTree;
  const proj = D['proj'] as ParamTree;
  const old = proj['W'] as tf.Tensor2D;
  let W: tf.Tensor2D;
  if (m.config.weights.mch > 0) {
    const cols: tf.Tensor2D[] = [];
    const loader = new EpisodeSampler(ds, k, 0, pool);
    for (let i = 0; i < pool.length; i += 16) {
      const videos = pool.slice(i, i + 16);
      const ep = loader.load({
        videos,
        kFrames: videos.map((v) => Array.from({ length: k }, (_, j) => j % ds.video(v).frames)),
        targets: videos.map(() => 0),
      });
      cols.push(trainer.infer((p) => embedEpisodes(p['E'] as ParamTree, trainer.config, ep.xk, ep.yk, k)));
      disposeEpisode(ep);
    }
    W = tf.tidy(() => tf.transpose(tf.concat(cols, 0)) as tf.Tensor2D);
    tf.dispose(cols);
    log(
      `--init on other data: ${pool.length} new columns of W, each its video's embedding (${m.columns} dropped)`,
    );
  } else {
    W = tf.tidy(() => tf.tile(tf.mean(old, 1, true), [1, pool.length]) as tf.Tensor2D);
    log(
      `--init on other data: ${pool.length} new columns of W, each the mean old column (${m.columns} dropped)`,
    );
  }
  old.dispose();
  trainer.params = { ...trainer.params, D: { ...D, proj: { ...proj, W } } };
}

/** Rank 0's weights, spectral-norm vectors and optimizer state on every rank. */
async function shareTrainerState(
  share: DataParallel,
  trainer: MetaTrainer,
  adamSteps: Record<string, number>,
): Promise<void> {
  const { m, v } = trainer.adam.state();
  const [params, sn, m2, v2] = await share.shareTrees([trainer.params, trainer.sn, m, v], 'starting weights');
  if (share.rank === 0) return;
  trainer.params = params!;
  trainer.sn = sn!;
  trainer.adam.load({ m: m2!, v: v2!, steps: adamSteps });
}
