/**
 * The model API: a meta-trained model (E, G with P, D with W, w0, b; its preset and variant) loaded
 * from a run folder (its newest intact checkpoint) or one checkpoint folder, checked (format,
 * version, SHA-256, preset, every tensor's name and shape) and returned ready to use. Fine-tuning,
 * animation and evaluation start here; resuming a run uses the same checks.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { disposeTree, type ParamTree } from '../models/params.js';
import type { NetConfig } from '../models/presets.js';
import {
  CheckpointError,
  latestCheckpoint,
  loadCheckpoint,
  matchTree,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { MetaConfigSchema, netConfigOf, type MetaConfig } from './meta.js';
import { initMetaParams } from './meta_step.js';
import { Run } from './run.js';

export interface MetaModel {
  /** where it came from: the checkpoint folder */
  source: string;
  /** SHA-256 of the checkpoint's tensors: names this exact model in what is made from it */
  hash: string;
  step: number;
  config: MetaConfig;
  net: NetConfig;
  /** raw weights {E, G, D} (spectral norm not applied) and the power-iteration vectors */
  params: ParamTree;
  sn: ParamTree;
}

/** Resolves a run folder or a checkpoint folder to the checkpoint to load. */
function loadFrom(path: string): LoadedCheckpoint {
  if (!existsSync(path))
    throw new CheckpointError(`Model "${path}" does not exist: pass a run folder or a checkpoint folder`);
  if (!statSync(path).isDirectory())
    throw new CheckpointError(
      `Model "${path}" is a file; a meta-trained model is a run folder (runs/00003-meta-small-ff) or one of its checkpoints/step-* folders`,
    );
  if (existsSync(join(path, 'checkpoint.json'))) return loadCheckpoint(path);
  if (existsSync(join(path, 'config.json'))) {
    const run = Run.open(path, { log: (s) => process.stderr.write(s + '\n') });
    try {
      const ck = run.latestIntact();
      if (!ck) throw new CheckpointError(`Model "${path}": the run has no checkpoint yet`);
      return ck;
    } finally {
      run.close();
    }
  }
  const newest = latestCheckpoint(path);
  if (newest) return loadCheckpoint(newest);
  throw new CheckpointError(
    `Model "${path}" is neither a run folder (config.json) nor a checkpoint (checkpoint.json)`,
  );
}

/** Loads and checks a meta-trained model. Call after the engine is initialised; dispose with `disposeModel`. */
export function loadMetaModel(path: string): MetaModel {
  const ck = loadFrom(path);
  try {
    const parsed = MetaConfigSchema.safeParse(ck.meta.config);
    if (!parsed.success)
      throw new CheckpointError(
        `Model "${ck.dir}" is not a meta-learning checkpoint (its config does not match this version: ${parsed.error.issues[0]?.message})`,
      );
    const config = parsed.data;
    let net: NetConfig;
    try {
      net = netConfigOf(config);
    } catch (e) {
      throw new CheckpointError(`Model "${ck.dir}": ${(e as Error).message}`);
    }
    const columns = (ck.meta.state['columns'] as unknown[] | undefined)?.length ?? 1;
    // Shapes to check against: a freshly initialised model of the same preset (then freed).
    const ref = initMetaParams(net, columns, 0);
    try {
      const what = `model "${ck.dir}" (preset ${config.preset})`;
      matchTree(ck.trees['params'], ref.params, what);
      matchTree(ck.trees['sn'], ref.sn, `${what} (spectral norm)`);
    } finally {
      disposeTree(ref.params);
      disposeTree(ref.sn);
    }
    for (const [k, t] of Object.entries(ck.trees)) if (k !== 'params' && k !== 'sn') disposeTree(t);
    return {
      source: ck.dir,
      hash: ck.meta.tensorsSha256,
      step: ck.meta.step,
      config,
      net,
      params: ck.trees['params']!,
      sn: ck.trees['sn']!,
    };
  } catch (e) {
    for (const t of Object.values(ck.trees)) disposeTree(t);
    throw e;
  }
}

export function disposeModel(m: Pick<MetaModel, 'params' | 'sn'>): void {
  disposeTree(m.params);
  disposeTree(m.sn);
}
