/**
 * The meta-learning loop (docs/design.md sec. 5): a run opened by meta_run.ts, then MetaTrainer steps,
 * with progress, metrics (JSONL + TensorBoard), sample grids, checkpoints (every N steps, on Ctrl-C),
 * bit-for-bit resume, and a clean stop on NaN/Inf that keeps the last good checkpoint.
 *
 *   runs/00004-meta-small-ft/
 *     config.json  metrics.jsonl  events.out.tfevents.*  samples/step-00000500.png  checkpoints/step-*
 */
import { existsSync, readFileSync } from 'node:fs';
import { trainingPrecision } from '../engine/precision.js';
import { parse as parseYaml } from 'yaml';
import { disposeEpisode, EpisodeSampler, slicePlan } from '../data/episodes.js';
import { PRESETS } from '../models/presets.js';
import { MetaConfigSchema, netConfigOf, type MetaConfig } from './config.js';
import { MemoryGuard, nonFinite } from './loop.js';
import type { MetaMetrics } from './meta_step.js';
import {
  openMetaRun,
  sampleGrid,
  saveCheckpoint,
  shareTrainerState,
  toBatch,
  type DistributedOptions,
  type MetaSession,
} from './meta_run.js';

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

/** Meta-learns from `cfg` (or resumes `resumeDir`) until `cfg.steps`, Ctrl-C or a non-finite loss. */
export async function metaTrain(
  cfg0: MetaConfig,
  resumeDir?: string,
  hooks: Hooks = {},
  distributed?: DistributedOptions,
): Promise<MetaRunResult> {
  const s = await openMetaRun(cfg0, resumeDir, hooks.log ?? console.log, distributed);
  const { cfg, run, share, trainer, sampler, log, globalBatch } = s;
  let step = s.step;
  let savedStep = step;
  const save = () => (saveCheckpoint(s, step) ? ((savedStep = step), true) : false);
  share?.comm.onTerminate(() => (s.lead ? stoppedDuring(s, step, savedStep) : ''));
  const ranks = share
    ? `, ${share.size} ranks (${share.end - share.start} episodes on rank 0; ${share.comm.library})`
    : '';
  log(
    `Meta-learning (${cfg.variant.toUpperCase()}) preset ${cfg.preset} ${s.net.resolution}px, K=${cfg.k}, batch ${globalBatch}${ranks}, ` +
      `${s.pool.length} training videos, on ${s.engine.backend} (${s.engine.threads} threads)\nRun folder: ${s.dir}`,
  );
  const nanStop = (why: string): 'nan' => {
    log(`\nStopped: ${why}. The last good checkpoint is kept; lower the learning rates and --resume.`);
    return 'nan';
  };
  // A fixed batch for sample grids, so pictures of different steps are comparable.
  const fixedEp = run
    ? new EpisodeSampler(s.ds, cfg.k, cfg.seed + 99, s.train, s.samplerOptions).next(Math.min(3, globalBatch))
    : null;
  const fixed = fixedEp ? toBatch(fixedEp, s.colOf) : null;
  if (step === 0) save(); // so there is always a good checkpoint to go back to
  const guard = new MemoryGuard(2);
  const alive = new EmbeddingWatch(log);
  let stopped: MetaRunResult['stopped'] = 'done';
  let last: MetaMetrics | null = null;
  const { start, end } = share ?? { start: 0, end: globalBatch };
  if (s.lead) hooks.onStart?.(step, cfg.steps);
  const restorePrecision = trainingPrecision(cfg.precision, log);
  try {
    while (step < cfg.steps) {
      // 1. The global batch's plan on every rank (same stream); each rank loads only its own episodes.
      const ep = sampler.load(slicePlan(sampler.plan(globalBatch), start, end));
      const b = toBatch(ep, s.colOf);
      const ts = performance.now();
      // 2. One E/G update and cfg.dSteps D updates, L_ADV ramped in after the warm-up.
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
      alive.check(m);
      m['secondsPerStep'] = (performance.now() - ts) / 1000;
      guard.check(step);
      // 3. Log, pictures, checkpoint; rank 0 decides whether to go on and every rank follows.
      if (step % cfg.checkpointEvery === 0) await syncReplicas(s, step);
      let verdict: 'on' | 'interrupted' | 'nan' = 'on';
      if (run) {
        if (step % cfg.logEvery === 0 || step === cfg.steps) run.metrics(step, m);
        hooks.onStep?.(step, cfg.steps, m);
        if (step % cfg.sampleEvery === 0 || step === cfg.steps)
          run.sample(step, sampleGrid(trainer, fixed!, s.net.resolution));
        if (step % cfg.checkpointEvery === 0 && !save()) verdict = 'nan';
        else {
          if (hooks.shouldStop?.(step)) run.requestStop();
          if (await run.shouldStop()) verdict = 'interrupted';
        }
      }
      if (share) verdict = VERDICTS[await share.fromRoot(VERDICTS.indexOf(verdict), 'the go-on decision')]!;
      if (verdict === 'nan') stopped = nanStop(`non-finite weights after step ${step}`);
      if (verdict !== 'on') {
        stopped = verdict;
        break;
      }
    }
    if (stopped !== 'nan') {
      await syncReplicas(s, step);
      if (!save()) stopped = nanStop(`non-finite weights after step ${step}`);
    }
  } finally {
    restorePrecision();
    run?.close();
    if (fixedEp) disposeEpisode(fixedEp);
    fixed?.column.dispose();
    trainer.dispose();
  }
  return { dir: s.dir, step, last, stopped };
}

const VERDICTS = ['on', 'interrupted', 'nan'] as const;

/** What an MPI run prints when a rank dies mid-step. */
function stoppedDuring(s: MetaSession, step: number, savedStep: number): string {
  return (
    `Stopped during step ${step + 1}; the last checkpoint (step ${savedStep}) in ${s.dir} is intact. ` +
    `Resume on any number of ranks: mpirun -np N npx talking-heads meta-train --distributed mpi --resume ${s.dir}`
  );
}

/** Before a checkpoint: replicas that floating point made differ get rank 0's weights again. */
async function syncReplicas(s: MetaSession, step: number): Promise<void> {
  if (!s.share) return;
  const { m, v, steps } = s.trainer.adam.state();
  if (!(await s.share.replicasDiffer([s.trainer.params, s.trainer.sn, m, v]))) return;
  s.log(`\nReplicas differed at step ${step} (floating point); rank 0's weights broadcast to all`);
  await shareTrainerState(s.share, s.trainer, steps);
}

/** Warns once when E's final ReLU has output 0 everywhere for 50 steps (docs/design.md sec. 5). */
class EmbeddingWatch {
  private deadFor = 0;
  constructor(private readonly log: (s: string) => void) {}
  check(m: MetaMetrics): void {
    this.deadFor = m['eAlive'] === 0 ? this.deadFor + 1 : 0;
    if (this.deadFor === 50)
      this.log(
        `\nWarning: every embedding entry has been 0 for 50 steps (E's ReLU died), so G no longer sees ` +
          `the identity. Lower --mch, lengthen --adv-warmup or use --variant ff.`,
      );
  }
}
