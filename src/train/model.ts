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
import { disposeTree } from '../nn/params.js';
import { writeFileAtomic } from '../io/atomic.js';
import { compactTensors, type Storage } from '../io/compact.js';
import { encodeSafetensors, readSafetensorsMetadata, SafetensorsError } from '../io/safetensors.js';
import {
  CheckpointError,
  latestCheckpoint,
  loadCheckpoint,
  toRaw,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { checkNetConfig } from '../models/presets.js';
import { MetaConfigSchema, netConfigOf } from './config.js';
import { Run } from './run.js';
import { decodeModelFile, metaModelOf, MODEL_FORMAT, MODEL_VERSION, type MetaModel } from './model_file.js';

export { MODEL_FORMAT, MODEL_VERSION, type MetaModel };

/**
 * A meta-trained model as one file: its weights and spectral-norm vectors (no optimizer state) and,
 * in the header, the run's config, network and step. What a package ships and `--model FILE` reads.
 * `storage`: float32; `f16` half precision; `q8` half precision with D's conv weights in 8 bits
 * (one scale per output channel: D only guides fine-tuning). Readers expand to float32 (io/compact.ts).
 */
export function saveModelFile(m: MetaModel, path: string, storage: Storage = 'f32'): void {
  const raw = compactTensors(toRaw({ params: m.params, sn: m.sn }), storage, (name) =>
    name.startsWith('params.D.'),
  );
  const bytes = encodeSafetensors(raw, {
    format: MODEL_FORMAT,
    version: String(MODEL_VERSION),
    config: JSON.stringify(m.config),
    network: JSON.stringify(m.net),
    step: String(m.step),
    columns: String(m.columns),
    source: m.hash,
    ...(storage === 'f32' ? {} : { storage }),
  });
  writeFileAtomic(path, bytes);
}

function loadModelFile(path: string): LoadedCheckpoint {
  const bytes = readFileSync(path);
  return decodeModelFile(bytes, path, createHash('sha256').update(bytes).digest('hex'));
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
  /** its model card (models/models.json) */
  card: string | null;
  /** how the file stores its weights (io/compact.ts): f32, f16 or q8 */
  storage: string;
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
      const c = MetaConfigSchema.parse(JSON.parse(md['config'] ?? '{}'));
      // The file's own network; files from before it was stored: its preset's.
      const net = md['network'] ? checkNetConfig(JSON.parse(md['network'])) : netConfigOf(c);
      return {
        name: basename(f, '.safetensors'),
        path,
        bytes: statSync(path).size,
        preset: c.preset,
        variant: c.variant,
        step: Number(md['step'] ?? 0),
        resolution: net.resolution,
        sha256: manifest[basename(f, '.safetensors')]?.sha256 ?? null,
        card: manifest[basename(f, '.safetensors')]?.card ?? null,
        storage: md['storage'] ?? 'f32',
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
  return metaModelOf(loadFrom(path));
}

export function disposeModel(m: Pick<MetaModel, 'params' | 'sn'>): void {
  disposeTree(m.params);
  disposeTree(m.sn);
}
