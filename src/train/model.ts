/**
 * The model API: a meta-trained model (E, G with P, D with W, w0, b; its preset and variant) loaded
 * from a model file (saveModelFile), a run folder (its newest intact checkpoint) or one checkpoint
 * folder, checked (format,
 * version, SHA-256, preset, every tensor's name and shape) and returned ready to use. Fine-tuning,
 * animation and evaluation start here; resuming a run uses the same checks.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { fileURLToPath } from 'node:url';
import { disposeTree, type ParamTree } from '../models/params.js';
import type { NetConfig } from '../models/presets.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsMetadata,
  SafetensorsError,
  type Decoded,
} from '../io/safetensors.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CheckpointError,
  latestCheckpoint,
  loadCheckpoint,
  matchTree,
  toRaw,
  treesOf,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { MetaConfigSchema, netConfigOf, type MetaConfig } from './meta.js';
import { initMetaParams } from './meta_step.js';
import { Run } from './run.js';

export interface MetaModel {
  /** where it came from: the model file or checkpoint folder */
  source: string;
  /** SHA-256 of the checkpoint's tensors: names this exact model in what is made from it */
  hash: string;
  step: number;
  /** columns of D's W (training videos) */
  columns: number;
  config: MetaConfig;
  net: NetConfig;
  /** raw weights {E, G, D} (spectral norm not applied) and the power-iteration vectors */
  params: ParamTree;
  sn: ParamTree;
}

export const MODEL_FORMAT = 'neural-talking-heads/model';
export const MODEL_VERSION = 1;

/**
 * A meta-trained model as one file: its weights and spectral-norm vectors (no optimizer state) and,
 * in the header, the run's config and step. What a package ships and `--model FILE` reads.
 */
export function saveModelFile(m: MetaModel, path: string): void {
  const bytes = encodeSafetensors(toRaw({ params: m.params, sn: m.sn }), {
    format: MODEL_FORMAT,
    version: String(MODEL_VERSION),
    config: JSON.stringify(m.config),
    step: String(m.step),
    columns: String(m.columns),
    source: m.hash,
  });
  writeFileAtomic(path, bytes);
}

function loadModelFile(path: string): LoadedCheckpoint {
  const bytes = readFileSync(path);
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot load model "${path}": ${why}`);
  };
  let decoded: Decoded;
  try {
    decoded = decodeSafetensors(bytes, path);
  } catch (e) {
    if (e instanceof SafetensorsError) return fail(`it is corrupt or truncated (${e.message})`);
    throw e;
  }
  const md = decoded.metadata;
  if (md['format'] !== MODEL_FORMAT)
    fail(
      md['format'] === 'neural-talking-heads/personal'
        ? 'it is a personalised model (fine-tune output): animate it with talking-heads animate --model'
        : `it is not a meta-trained model file (format "${md['format'] ?? 'none'}"); pass a model .safetensors, a run folder or a checkpoint folder`,
    );
  if (md['version'] !== String(MODEL_VERSION))
    fail(`format version ${md['version']}, this build reads version ${MODEL_VERSION}`);
  let config: unknown;
  try {
    config = JSON.parse(md['config'] ?? '');
  } catch {
    fail('its config is not valid JSON');
  }
  return {
    dir: path,
    meta: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: Number(md['step'] ?? 0),
      created: '',
      config,
      state: { columns: Array.from({ length: Number(md['columns'] ?? 1) }, (_, i) => i) },
      dataManifestHash: null,
      tensorsSha256: createHash('sha256').update(bytes).digest('hex'),
      tensorsBytes: bytes.length,
    },
    trees: treesOf(decoded),
  };
}

/**
 * The models that ship with the package: `models/NAME.safetensors` at the package root (this file is
 * src/train/model.ts or dist/train/model.js, two levels below it).
 */
export const SHIPPED_MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));
/** The model the demo and `--model` defaults use. */
export const DEFAULT_MODEL = 'small-64px-ff';

export interface ShippedModel {
  name: string;
  path: string;
  bytes: number;
  /** from the file's header, without reading its tensors */
  preset: string;
  variant: string;
  step: number;
  resolution: number;
  /** the SHA-256 of the file that models/models.json records (what the model card describes) */
  sha256: string | null;
}

/** models/models.json: per shipped model, the SHA-256 and size of its file, and its card. */
const ShippedManifest = z.record(
  z.string(),
  z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
    card: z.string(),
  }),
);

function shippedManifest(dir: string): z.infer<typeof ShippedManifest> {
  const f = join(dir, 'models.json');
  return existsSync(f) ? ShippedManifest.parse(JSON.parse(readFileSync(f, 'utf8'))) : {};
}

/** SHA-256 of a file's bytes. */
export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The shipped models, by name, read from their headers only. */
export function listShippedModels(dir = SHIPPED_MODELS_DIR): ShippedModel[] {
  if (!existsSync(dir)) return [];
  const manifest = shippedManifest(dir);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
    .map((f) => {
      const path = join(dir, f);
      const md = modelMetadata(path);
      const cfg = MetaConfigSchema.partial().parse(JSON.parse(md['config'] ?? '{}'));
      const c = MetaConfigSchema.parse({ data: 'unused', ...cfg });
      return {
        name: basename(f, '.safetensors'),
        path,
        bytes: statSync(path).size,
        preset: c.preset,
        variant: c.variant,
        step: Number(md['step'] ?? 0),
        resolution: netConfigOf(c).resolution,
        sha256: manifest[basename(f, '.safetensors')]?.sha256 ?? null,
      };
    });
}

/** `--model NAME|PATH`: an existing path as given, else the shipped model of that name. */
export function resolveModel(nameOrPath: string, dir = SHIPPED_MODELS_DIR): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const shipped = join(dir, `${nameOrPath}.safetensors`);
  if (!nameOrPath.includes('/') && existsSync(shipped)) return shipped;
  const names = listShippedModels(dir).map((m) => m.name);
  throw new CheckpointError(
    `Model "${nameOrPath}" does not exist: pass a shipped model's name (${names.join(', ') || 'none installed'}; talking-heads models), a model .safetensors, a run folder or a checkpoint folder`,
  );
}

/** A model file's header metadata, without its tensors; a bad header is a CheckpointError. */
function modelMetadata(path: string): Record<string, string> {
  try {
    return readSafetensorsMetadata(path);
  } catch (e) {
    if (e instanceof SafetensorsError)
      throw new CheckpointError(`Model "${path}" has a corrupt header (${e.message})`);
    throw e;
  }
}

/** Resolves a model file, a run folder or a checkpoint folder to the checkpoint to load. */
function loadFrom(nameOrPath: string): LoadedCheckpoint {
  const path = resolveModel(nameOrPath);
  if (!statSync(path).isDirectory()) return loadModelFile(path);
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
      columns,
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
