/**
 * Checkpoints: one directory per step holding `tensors.safetensors` (parameters, buffers such as the
 * spectral-norm vectors, optimizer moments) and `checkpoint.json` (config, step, RNG state, data
 * manifest hash, the tensors file's SHA-256). A checkpoint is built in a temporary directory, every
 * file fsynced, then renamed into place: a crash leaves either the old set or the new one, never a
 * half-written checkpoint, and `latestCheckpoint` only ever sees complete ones.
 *
 *   run/checkpoints/step-00001200/{tensors.safetensors, checkpoint.json}
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type Tensor } from '../engine/tf.js';
import { flatten, unflatten, type ParamTree } from '../nn/params.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type Decoded,
  type RawTensor,
} from '../io/safetensors.js';
import { syncDir, withoutPath, withPath, writeAndSync } from '../io/atomic.js';

export const CHECKPOINT_FORMAT = 'neural-talking-heads/checkpoint';
export const CHECKPOINT_VERSION = 1;
const TENSORS = 'tensors.safetensors';
const META = 'checkpoint.json';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The trees a checkpoint holds, by section. Sections are prefixes of tensor names in the file. */
export type CheckpointTrees = Record<string, ParamTree>;

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  created: string;
  /** Resolved run config, so resuming needs no other input. */
  config: unknown;
  /**
   * The resolved network (models/presets.ts NetConfig), so that loading builds exactly what was
   * trained whatever the presets say later. Absent in files written before 2026-12-05: the config's
   * preset is resolved then.
   */
  network?: unknown;
  /** Anything else the trainer needs to continue bit for bit (RNG states, optimizer step counts...). */
  state: Record<string, unknown>;
  dataManifestHash: string | null;
  tensorsSha256: string;
  tensorsBytes: number;
}

/** What a checkpoint says about itself besides its tensors. */
export interface CheckpointInfo {
  config: unknown;
  network?: unknown;
  state?: Record<string, unknown>;
  dataManifestHash?: string | null;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Reads tensors to host memory as "section.path" entries: the only part of saving that touches the backend. */
export function toRaw(trees: CheckpointTrees): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const section of Object.keys(trees).sort()) {
    if (section.includes('.')) throw new CheckpointError(`Section name "${section}" must not contain "."`);
    for (const [path, t] of flatten(trees[section]!)) {
      const data = t.dataSync();
      const raw: RawTensor =
        t.dtype === 'int32'
          ? { dtype: 'I32', shape: [...t.shape], data: Int32Array.from(data) }
          : { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(data) };
      out.set(`${section}.${path}`, raw);
    }
  }
  return out;
}

/**
 * Saves a checkpoint for `step` under `checkpointsDir` and returns its directory. Replaces an existing
 * checkpoint of the same step atomically.
 */
export function saveCheckpoint(
  checkpointsDir: string,
  step: number,
  trees: CheckpointTrees,
  info: CheckpointInfo,
): string {
  mkdirSync(checkpointsDir, { recursive: true });
  const bytes = encodeSafetensors(toRaw(trees), { format: CHECKPOINT_FORMAT, step: String(step) });
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step,
    created: new Date().toISOString(),
    config: info.config,
    ...(info.network !== undefined ? { network: info.network } : {}),
    state: info.state ?? {},
    dataManifestHash: info.dataManifestHash ?? null,
    tensorsSha256: createHash('sha256').update(bytes).digest('hex'),
    tensorsBytes: bytes.length,
  };
  const final = join(checkpointsDir, stepDirName(step));
  const tmp = join(checkpointsDir, `.${stepDirName(step)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    writeAndSync(join(tmp, TENSORS), bytes);
    writeAndSync(join(tmp, META), JSON.stringify(meta, null, 2) + '\n');
    syncDir(tmp);
  } catch (e) {
    // a full disk (or any failure) leaves no half-written checkpoint folder behind
    rmSync(tmp, { recursive: true, force: true });
    throw withPath(withoutPath(e), final);
  }
  if (existsSync(final)) {
    const old = join(checkpointsDir, `.${stepDirName(step)}.old-${process.pid}`);
    renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  syncDir(checkpointsDir);
  return final;
}

export interface LoadedCheckpoint {
  dir: string;
  meta: CheckpointMeta;
  /** Trees by section; the caller owns (and disposes) the tensors. */
  trees: CheckpointTrees;
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const metaPath = join(dir, META);
  if (!existsSync(metaPath)) throw new CheckpointError(`Cannot load checkpoint "${dir}": ${META} is missing`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(
      `Cannot load checkpoint "${dir}": ${META} is not valid JSON (${(e as Error).message})`,
    );
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `Cannot load checkpoint "${dir}": not a ${CHECKPOINT_FORMAT} (format ${String(meta.format)})`,
    );
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `Cannot load checkpoint "${dir}": format version ${meta.version}, this build reads version ${CHECKPOINT_VERSION}`,
    );
  }
  return meta;
}

/** Loads and verifies a checkpoint directory (size, SHA-256, safetensors structure). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const meta = readCheckpointMeta(dir);
  const tensorsPath = join(dir, TENSORS);
  if (!existsSync(tensorsPath))
    throw new CheckpointError(`Cannot load checkpoint "${dir}": ${TENSORS} is missing`);
  const bytes = readFileSync(tensorsPath);
  if (bytes.length !== meta.tensorsBytes) {
    throw new CheckpointError(
      `Cannot load checkpoint "${dir}": ${TENSORS} is ${bytes.length} bytes, expected ${meta.tensorsBytes} (truncated or replaced)`,
    );
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== meta.tensorsSha256) {
    throw new CheckpointError(
      `Cannot load checkpoint "${dir}": ${TENSORS} fails its SHA-256 check (corrupt)`,
    );
  }
  let trees: CheckpointTrees;
  try {
    trees = treesOf(decodeSafetensors(bytes, tensorsPath));
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof CheckpointError)
      throw new CheckpointError(`Cannot load checkpoint "${dir}": ${e.message}`);
    throw e;
  }
  return { dir, meta, trees };
}

/**
 * The trees of a decoded safetensors file whose tensor names are "section.path" (checkpoints, model
 * files). The caller owns the tensors.
 */
export function treesOf(decoded: Decoded): CheckpointTrees {
  const sections = new Map<string, Map<string, Tensor>>();
  for (const [name, raw] of decoded.tensors) {
    const dot = name.indexOf('.');
    if (dot < 0) {
      for (const m of sections.values()) tf.dispose([...m.values()]);
      throw new CheckpointError(`tensor "${name}" has no section prefix`);
    }
    const section = name.slice(0, dot);
    if (!sections.has(section)) sections.set(section, new Map());
    const t =
      raw.dtype === 'I32'
        ? tf.tensor(raw.data, raw.shape, 'int32')
        : tf.tensor(raw.data, raw.shape, 'float32');
    sections.get(section)!.set(name.slice(dot + 1), t);
  }
  const trees: CheckpointTrees = {};
  for (const [s, leaves] of sections) trees[s] = unflatten(leaves);
  return trees;
}

/**
 * Checks that `loaded` has exactly the tensors of `expected` (names and shapes) and returns it.
 * Errors name the first missing, unexpected or mis-shaped tensor.
 */
export function matchTree(loaded: ParamTree | undefined, expected: ParamTree, what: string): ParamTree {
  if (!loaded) throw new CheckpointError(`Cannot load ${what}: section is missing`);
  const got = flatten(loaded);
  for (const [path, t] of flatten(expected)) {
    const g = got.get(path);
    if (!g) throw new CheckpointError(`Cannot load ${what}: missing tensor "${path}"`);
    if (g.shape.join() !== t.shape.join()) {
      throw new CheckpointError(
        `Cannot load ${what}: tensor "${path}" has shape [${g.shape}], the model needs [${t.shape}]`,
      );
    }
  }
  const want = flatten(expected);
  for (const path of got.keys()) {
    if (!want.has(path))
      throw new CheckpointError(`Cannot load ${what}: unexpected tensor "${path}" (different model config?)`);
  }
  return loaded;
}

/** Complete checkpoints under `checkpointsDir`, oldest first. */
export function listCheckpoints(checkpointsDir: string): { step: number; dir: string }[] {
  if (!existsSync(checkpointsDir)) return [];
  return readdirSync(checkpointsDir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: join(checkpointsDir, m[0]) }))
    .filter((c) => existsSync(join(c.dir, META)) && existsSync(join(c.dir, TENSORS)))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(checkpointsDir: string): string | null {
  const all = listCheckpoints(checkpointsDir);
  return all.length ? all[all.length - 1]!.dir : null;
}

/** Deletes all but the newest `keep` checkpoints (and leftovers of interrupted saves). */
export function pruneCheckpoints(checkpointsDir: string, keep: number): void {
  const all = listCheckpoints(checkpointsDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep)))
    rmSync(c.dir, { recursive: true, force: true });
  if (!existsSync(checkpointsDir)) return;
  for (const name of readdirSync(checkpointsDir)) {
    if (/^\.step-\d+\.(tmp|old)-\d+$/.test(name)) {
      const pid = Number(name.split('-').pop());
      if (pid !== process.pid) rmSync(join(checkpointsDir, name), { recursive: true, force: true });
    }
  }
}
