/**
 * Opening a meta-learning run (docs/design.md sec. 5), so that `metaTrain` (meta.ts) is only the loop:
 * the config (fresh, or the run's own when resuming, the global batch when distributed), the data
 * mix and its split, the sampler and one W column per training video, the trainer's starting state
 * (fresh, `--init` from a model, or the newest intact checkpoint), the run folder, and in a
 * distributed run rank 0's starting state on every rank.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { disposeEpisode, EpisodeSampler, type EpisodeBatch, type SamplerOptions } from '../data/episodes.js';
import { DataMix } from '../data/mix.js';
import { initEngine, type EngineInfo } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { localRanks, type Communicator } from '../engine/mpi.js';
import { tf } from '../engine/tf.js';
import { grid, toRgb8, type RgbImage } from '../media/png.js';
import { widenForSkips, widenForSourceWarp } from '../models/networks.js';
import { embedResolution, type NetConfig } from '../models/presets.js';
import { countParams, disposeTree, type ParamTree } from '../nn/params.js';
import { listCheckpoints, matchTree } from './checkpoint.js';
import { dataDirs, MetaConfigSchema, netConfigOf, type MetaConfig } from './config.js';
import { DataParallel, shareJson } from './distributed.js';
import { embedEpisodes, initMetaParams, MetaTrainer, type MetaBatch } from './meta_step.js';
import { disposeModel, loadMetaModel, type MetaModel } from './model.js';
import { Run } from './run.js';

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

/**
 * Why a source-warp network should not train on warped targets (docs/evaluation.md "Where the closed
 * mouth came from"): the target is then a warp of a K frame, and the source warp of that frame is
 * the target itself, so the episode teaches that the warp is always right, an opened mouth included.
 */
export const WARPED_TARGETS_NOTE =
  'Note: this network blends a source warp, and some targets will be warped copies of a K frame ' +
  '(augment.warp, or one-photo people): their source warp is their exact answer, which teaches G to trust ' +
  'the warp everywhere (the closed mouth of docs/evaluation.md). configs/real-64px-pairs.yaml trains on real pairs only.';

/** Everything the loop needs, opened and in its starting state. */
export interface MetaSession {
  cfg: MetaConfig;
  net: NetConfig;
  engine: EngineInfo;
  /** the rank that writes (always true without MPI) */
  lead: boolean;
  log: (s: string) => void;
  /** the run folder (rank 0 only) */
  run: Run | null;
  dir: string;
  ds: DataMix;
  dataHash: string;
  sampler: EpisodeSampler;
  samplerOptions: SamplerOptions;
  train: readonly number[];
  /** the training videos that have a column of W, in column order */
  pool: readonly number[];
  colOf: Map<number, number>;
  trainer: MetaTrainer;
  /** the step the run starts from */
  step: number;
  share: DataParallel | null;
  globalBatch: number;
}

/** An episode batch with each video's column of W. */
export function toBatch(e: EpisodeBatch, colOf: Map<number, number>): MetaBatch {
  return {
    xk: e.xk,
    yk: e.yk,
    xt: e.xt,
    yt: e.yt,
    wt: e.wt ?? undefined,
    mt: e.mt ?? undefined,
    column: tf.tensor1d(
      e.plan.videos.map((v) => colOf.get(v)!),
      'int32',
    ),
  };
}

/**
 * Sample grid: per episode (up to 3), K inputs (up to 4), the target's landmark image, its source
 * warp (a network with one), output, real.
 */
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
    tiles.push(img(b.yt, r));
    if (b.wt) tiles.push(img(b.wt, r));
    tiles.push(img(fake, r), img(b.xt, r));
  }
  fake.dispose();
  return grid(tiles, shown + (b.wt ? 4 : 3));
}

/** Opens a fresh run, or resumes `resumeDir`; in a distributed run, on every rank. */
export async function openMetaRun(
  cfgIn: MetaConfig,
  resumeDir: string | undefined,
  log0: (s: string) => void,
  distributed?: DistributedOptions,
): Promise<MetaSession> {
  const comm = distributed?.comm;
  const lead = !comm || comm.rank === 0;
  const log = lead ? log0 : () => {};
  const run = resumeDir && lead ? Run.open(resumeDir, { keepCheckpoints: cfgIn.keepCheckpoints, log }) : null;
  try {
    return await openWith(await runConfig(cfgIn, run, comm), run, lead, log, comm);
  } catch (e) {
    run?.close();
    throw e;
  }
}

/**
 * The config the run trains with. Resuming: the run's own wins; a larger --steps extends it; backend
 * and threads may change. Distributed: rank 0's on every rank, the batch made global, the cores of a
 * machine shared among its ranks.
 */
async function runConfig(
  cfgIn: MetaConfig,
  run: Run | null,
  comm: Communicator | undefined,
): Promise<MetaConfig> {
  let cfg = cfgIn;
  const lead = !comm || comm.rank === 0;
  if (run) {
    if (listCheckpoints(run.checkpointsDir).length === 0)
      throw new Error(`Cannot resume "${run.dir}": no checkpoint in it yet`);
    const saved = MetaConfigSchema.parse(
      (JSON.parse(readFileSync(join(run.dir, 'config.json'), 'utf8')) as { config: unknown }).config,
    );
    cfg = {
      ...saved,
      steps: Math.max(saved.steps, cfgIn.steps),
      backend: cfgIn.backend ?? saved.backend,
      threads: cfgIn.threads ?? saved.threads,
    };
  } else if (comm && lead) cfg = { ...cfg, batch: cfg.batch * comm.size };
  if (!comm) return cfg;
  cfg = await shareJson(comm, lead ? cfg : undefined, 'the config');
  return {
    ...cfg,
    threads: cfgIn.threads ?? cfg.threads ?? Math.max(1, Math.floor(cpus().length / localRanks())),
  };
}

async function openWith(
  cfg: MetaConfig,
  resumed: Run | null,
  lead: boolean,
  log: (s: string) => void,
  comm: Communicator | undefined,
): Promise<MetaSession> {
  const globalBatch = cfg.batch;
  const share = comm ? new DataParallel(comm, globalBatch) : null;
  // The engine first: loading tensors before it is chosen would start TF.js's default backend.
  const engine = await initEngine({ backend: cfg.backend, threads: cfg.threads });
  const ck = resumed?.latestIntact({ setAside: true }) ?? null;
  const net = netConfigOf(cfg);
  const ds = new DataMix(dataDirs(cfg), cfg.mix);
  if (ds.resolution !== net.resolution)
    throw new RangeError(
      `Dataset "${ds.dir}" is ${ds.resolution}px but preset "${cfg.preset}" is ${net.resolution}px (make data with --size ${net.resolution})`,
    );
  const dataHash = ds.hash();
  if (share) {
    const rootHash = await shareJson(share.comm, lead ? dataHash : undefined, 'the dataset hash');
    if (rootHash !== dataHash)
      throw new Error(
        `rank ${share.rank}: the dataset "${ds.dir}" differs from rank 0's (manifest hash); every rank needs the same data`,
      );
  }
  if (ck && ck.meta.dataManifestHash !== dataHash)
    throw new Error(
      `Cannot resume "${resumed!.dir}": its dataset "${ds.dir}" changed since the checkpoint (manifest hash differs)`,
    );
  const split = ds.split(cfg.holdout, cfg.seed);
  // Every training video the episodes can use gets a column of W: videos of two frames or more, and
  // one-frame videos (a single photo) when the warp can make their second frame.
  const samplerOptions: SamplerOptions = {
    weights: ds.poolWeights(split.train),
    augment: cfg.augment,
    sourceWarp: net.sourceWarp,
    mouth: cfg.weights.mouth > 0,
  };
  const sampler = new EpisodeSampler(ds, cfg.k, cfg.seed + 1, split.train, samplerOptions);
  const pool = sampler.pool;
  if (net.sourceWarp && pool.some((v) => sampler.warpsTargetsOf(v))) log(WARPED_TARGETS_NOTE);
  const trainer = new MetaTrainer(net, cfg.k, cfg.weights, cfg, initMetaParams(net, pool.length, cfg.seed), {
    vgg19: cfg.vgg19,
    vggface: cfg.vggface,
  });
  const s: MetaSession = {
    cfg,
    net,
    engine,
    lead,
    log,
    run: resumed,
    dir: resumed?.dir ?? '',
    ds,
    dataHash,
    sampler,
    samplerOptions,
    train: split.train,
    pool,
    colOf: new Map(pool.map((v, i) => [v, i])),
    trainer,
    step: 0,
    share,
    globalBatch,
  };
  try {
    if (ck) {
      const what = `checkpoint of "${resumed!.dir}"`;
      try {
        const params = matchTree(ck.trees['params'], trainer.params, what);
        const sn = matchTree(ck.trees['sn'], trainer.sn, `${what} (spectral norm)`);
        const m = matchTree(ck.trees['adam_m'], trainer.params, `${what} (optimizer)`);
        const v = matchTree(ck.trees['adam_v'], trainer.params, `${what} (optimizer)`);
        setWeights(trainer, params, sn);
        trainer.adam.load({ m, v, steps: ck.meta.state['adamSteps'] as Record<string, number> });
      } catch (e) {
        for (const t of Object.values(ck.trees)) disposeTree(t);
        throw e;
      }
      sampler.rng.state = ck.meta.state['samplerRng'] as number;
      s.step = ck.meta.step;
      log(`Resuming ${resumed!.dir} at step ${s.step}`);
    } else if (lead) {
      const init = cfg.init ? startFrom(s, cfg.init) : undefined;
      s.run = Run.create(cfg.out, `meta-${cfg.preset}-${cfg.variant}`, describeRun(s, split.test, init), {
        keepCheckpoints: cfg.keepCheckpoints,
        log,
      });
      s.dir = s.run.dir;
    }
    if (share) await shareStart(s);
  } catch (e) {
    trainer.dispose();
    throw e;
  }
  return s;
}

function setWeights(trainer: MetaTrainer, params: ParamTree, sn: ParamTree): void {
  disposeTree(trainer.params);
  disposeTree(trainer.sn);
  trainer.params = params;
  trainer.sn = sn;
}

interface InitInfo {
  source: string;
  sha256: string;
  step: number;
  newColumns?: number;
}

/** `--init`: a meta-trained model's weights (fresh optimizer state); new W columns on other data. */
function startFrom(s: MetaSession, file: string): InitInfo {
  const m = loadMetaModel(file);
  // a model without a source warp can start a run with one (G widened; docs/design.md sec. 3.5),
  // and one without skips a run with them
  const widen = !m.net.sourceWarp && s.net.sourceWarp;
  const addSkips = !m.net.skips && s.net.skips;
  const has = (n: NetConfig) => `${n.sourceWarp ? ', with a source warp' : ''}${n.skips ? ' and skips' : ''}`;
  // and a generator can grow to a higher resolution while E and D see what they saw
  // (`embedResolution`): convolutions run at any size, so the same weights apply
  const grown = m.net.resolution !== s.net.resolution;
  // the rest of the network must match: compared without the four, whatever their keys' order
  const free = new Set(['sourceWarp', 'skips', 'resolution', 'embedResolution']);
  const asRun = (n: NetConfig) =>
    JSON.stringify([
      Object.entries(n)
        .filter(([k, v]) => !free.has(k) && v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1)),
      embedResolution(n),
    ]);
  try {
    if (
      m.config.preset !== s.cfg.preset ||
      asRun(m.net) !== asRun(s.net) ||
      m.net.resolution > s.net.resolution ||
      (m.net.sourceWarp && !s.net.sourceWarp) ||
      (m.net.skips && !s.net.skips)
    )
      throw new RangeError(
        `--init "${file}" is preset ${m.config.preset} (${m.net.resolution}px${has(m.net)}), this run is ${s.cfg.preset} (${s.net.resolution}px${has(s.net)}): use the model's network`,
      );
  } catch (e) {
    disposeModel(m);
    throw e;
  }
  const replaceG = (wide: { G: ParamTree; sn: ParamTree }) => {
    disposeTree(m.params['G'] as ParamTree);
    disposeTree(m.sn['G'] as ParamTree);
    m.params = { ...m.params, G: wide.G };
    m.sn = { ...m.sn, G: wide.sn };
  };
  if (widen) {
    replaceG(widenForSourceWarp(m.params['G'] as ParamTree, m.sn['G'] as ParamTree));
    s.log('--init from a model without a source warp: G widened (new inputs and mask start at zero weight)');
  }
  if (addSkips) {
    const rng = new Rng(s.cfg.seed);
    replaceG(widenForSkips(m.params['G'] as ParamTree, m.sn['G'] as ParamTree, s.net, rng));
    s.log('--init from a model without skips: G given them (they start at zero weight: the same frames)');
  }
  if (grown)
    s.log(`--init from a ${m.net.resolution}px model: G grown to ${s.net.resolution}px (the same weights)`);
  setWeights(s.trainer, m.params, m.sn);
  const sameData =
    m.columns === s.pool.length && JSON.stringify(m.config.data) === JSON.stringify(s.cfg.data);
  if (!sameData) initColumns(s, m);
  s.log(`Starting from ${m.source} (step ${m.step}; fresh optimizer state)`);
  return {
    source: m.source,
    sha256: m.hash,
    step: m.step,
    ...(sameData ? {} : { newColumns: s.pool.length }),
  };
}

/** What config.json says about a fresh run: the config, network, engine, data and loss. */
function describeRun(
  s: MetaSession,
  heldOut: readonly number[],
  init: InitInfo | undefined,
): Record<string, unknown> {
  const { cfg, ds, pool, trainer, share } = s;
  const skipped = s.train.length - pool.length;
  return {
    command: 'meta-train',
    config: cfg,
    ...(init ? { init } : {}),
    network: s.net,
    engine: s.engine,
    ...(share
      ? { distributed: { ranks: share.size, library: share.comm.library, globalBatch: s.globalBatch } }
      : {}),
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
      manifestHash: s.dataHash,
      trainVideos: pool.length,
      heldOutVideos: heldOut.length,
      heldOutIdentities: [...new Set(heldOut.map((v) => ds.video(v).identity))],
      ...(skipped ? { unusable: `${skipped} one-frame videos (no warp to make their second frame)` } : {}),
    },
    augment: cfg.augment,
    parameters: {
      E: countParams(trainer.params['E'] as ParamTree),
      G: countParams(trainer.params['G'] as ParamTree),
      D: countParams(trainer.params['D'] as ParamTree),
    },
    contentLoss: trainer.content.describe(cfg.weights),
  };
}

/**
 * `--init` on data other than the model's own: D's W gets one new column per training video of this
 * run and the old ones are dropped. A model meta-learned with L_MCH has its columns in the embedding's
 * space (sec. 3.2: W_i is matched to e_i), so W_i starts as video i's embedding (the VT port's
 * init_Wi); an FF model's columns bear no relation to embeddings, so each starts as the mean old
 * column (the score D gave an average training video).
 */
function initColumns(s: MetaSession, m: MetaModel): void {
  const { trainer, pool, ds } = s;
  const k = s.cfg.k;
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
    s.log(
      `--init on other data: ${pool.length} new columns of W, each its video's embedding (${m.columns} dropped)`,
    );
  } else {
    W = tf.tidy(() => tf.tile(tf.mean(old, 1, true), [1, pool.length]) as tf.Tensor2D);
    s.log(
      `--init on other data: ${pool.length} new columns of W, each the mean old column (${m.columns} dropped)`,
    );
  }
  old.dispose();
  trainer.params = { ...trainer.params, D: { ...D, proj: { ...proj, W } } };
}

/** Rank 0's starting state (fresh, --init or a checkpoint) on every rank: identical replicas. */
async function shareStart(s: MetaSession): Promise<void> {
  const share = s.share!;
  const st = await shareJson(
    share.comm,
    s.lead
      ? { dir: s.dir, step: s.step, samplerRng: s.sampler.rng.state, adamSteps: s.trainer.adam.state().steps }
      : undefined,
    'the run state',
  );
  s.dir = st.dir;
  s.step = st.step;
  s.sampler.rng.state = st.samplerRng;
  await shareTrainerState(share, s.trainer, st.adamSteps);
  s.trainer.reducer = share.reducer<MetaBatch>({
    path: 'D.proj.W',
    columns: (b) => [...b.column.dataSync()],
  });
}

/** Rank 0's weights, spectral-norm vectors and optimizer state on every rank. */
export async function shareTrainerState(
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

/**
 * Saves a checkpoint of the session at its step (rank 0; others: true). False: the weights were not
 * finite and nothing was written.
 */
export function saveCheckpoint(s: MetaSession, step: number): boolean {
  if (!s.run) return true;
  const { m, v, steps } = s.trainer.adam.state();
  return s.run.checkpoint(
    step,
    { params: s.trainer.params, sn: s.trainer.sn, adam_m: m, adam_v: v },
    {
      config: s.cfg,
      network: s.net,
      state: { adamSteps: steps, samplerRng: s.sampler.rng.state, columns: s.pool },
      dataManifestHash: s.dataHash,
    },
  );
}
