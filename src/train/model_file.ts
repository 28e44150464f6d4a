/**
 * A meta-trained model from its bytes: the model file's format (saveModelFile writes it), decoded and
 * checked against the network it describes (format, version, config, every tensor's name and shape). No
 * I/O here: the CLI reads files (model.ts), the browser app fetches the same file.
 */
import { checkNetConfig, type NetConfig } from '../models/presets.js';
import { disposeTree, type ParamTree } from '../nn/params.js';
import { expandTensors } from '../io/compact.js';
import { decodeSafetensors, noteUnchecked, SafetensorsError, type Decoded } from '../io/safetensors.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CheckpointError,
  matchTree,
  treesOf,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { MetaConfigSchema, netConfigOf, type MetaConfig } from './config.js';
import { initMetaParams } from './meta_step.js';

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
/** 2: the file carries its checksum (io/safetensors.ts); version 1 files (without) still load. */
export const MODEL_VERSION = 2;

/** A model file's bytes as a checkpoint (its trees owned by the caller); `what` names it in errors. */
export function decodeModelFile(bytes: Uint8Array, what: string, sha256: string): LoadedCheckpoint {
  const fail = (why: string): never => {
    throw new CheckpointError(`Cannot load model "${what}": ${why}`);
  };
  let decoded: Decoded;
  try {
    decoded = decodeSafetensors(bytes, what);
  } catch (e) {
    if (e instanceof SafetensorsError) return fail(`it is corrupt or truncated (${e.message})`);
    throw e;
  }
  // compact files (F16, 8-bit D weights) stand for float32 tensors: expanded before anything else
  try {
    decoded = { ...decoded, tensors: expandTensors(decoded.tensors) };
  } catch (e) {
    return fail(`it is corrupt (${(e as Error).message})`);
  }
  const md = decoded.metadata;
  if (md['format'] !== MODEL_FORMAT)
    fail(
      md['format'] === 'neural-talking-heads/personal'
        ? 'it is a personalised model (fine-tune output): animate it with talking-heads animate --model'
        : `it is not a meta-trained model file (format "${md['format'] ?? 'none'}"); pass a model .safetensors, a run folder or a checkpoint folder`,
    );
  if (md['version'] !== String(MODEL_VERSION) && md['version'] !== '1')
    fail(`format version ${md['version']}, this build reads versions 1 and ${MODEL_VERSION}`);
  // since version 2 every file carries its checksum: one without is damaged, not old
  if (!decoded.checked && md['version'] !== '1') fail('it is corrupt (its checksum is missing)');
  noteUnchecked(decoded, what);
  let config: unknown;
  let network: unknown;
  try {
    config = JSON.parse(md['config'] ?? '');
  } catch {
    fail('its config is not valid JSON');
  }
  try {
    network = md['network'] === undefined ? undefined : JSON.parse(md['network']);
  } catch {
    fail('its network config is not valid JSON');
  }
  return {
    dir: what,
    meta: {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: Number(md['step'] ?? 0),
      created: '',
      config,
      ...(network !== undefined ? { network } : {}),
      state: { columns: Array.from({ length: Number(md['columns'] ?? 1) }, (_, i) => i) },
      dataManifestHash: null,
      tensorsSha256: sha256,
      tensorsBytes: bytes.length,
    },
    trees: treesOf(decoded),
  };
}

/**
 * The meta-trained model of a checkpoint, checked: its config, and every tensor against a freshly
 * initialised model of the same network (the file's own; the preset's for older files). Takes ownership of the checkpoint's trees.
 */
export function metaModelOf(ck: LoadedCheckpoint): MetaModel {
  try {
    const parsed = MetaConfigSchema.safeParse(ck.meta.config);
    if (!parsed.success)
      throw new CheckpointError(
        `Model "${ck.dir}" is not a meta-learning checkpoint (its config does not match this version: ${parsed.error.issues[0]?.message})`,
      );
    const config = parsed.data;
    let net: NetConfig;
    try {
      // The file's own network when it has one; files from before it was stored: the preset's.
      net = ck.meta.network === undefined ? netConfigOf(config) : checkNetConfig(ck.meta.network);
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
