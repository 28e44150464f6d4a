/**
 * A personalised model (paper sec. 3.3): the generator G' of one person, ready to animate, in one
 * safetensors file. It holds G's weights with spectral normalisation baked in (W / sigma), psi' (the
 * AdaIN parameters, P e_NEW, fine-tuned or not) and the landmarks of the T frames it was made from
 * (the face geometry that retargeting maps a driver's motion onto). Animation needs no embedder and
 * no discriminator. The header's metadata says what it is:
 *
 *   format "neural-talking-heads/personal", version, preset, net (JSON), mode (fine-tuned |
 *   feed-forward), T, sourceModel (SHA-256 of the meta-trained checkpoint's tensors), created, ...
 *
 * Written atomically (temp name + rename); read with every check a user's file can fail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { NUM_LANDMARKS } from '../faces/landmarks.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  noteUnchecked,
  SafetensorsError,
  type RawTensor,
} from '../io/safetensors.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { initGenerator, psiSize } from './networks.js';
import { disposeTree, flatten, unflatten, type ParamTree } from '../nn/params.js';
import { checkNetConfig, type NetConfig } from './presets.js';

export const PERSONAL_FORMAT = 'neural-talking-heads/personal';
/** 2: the file carries its checksum (io/safetensors.ts); version 1 files (without) still load. */
export const PERSONAL_VERSION = 2;

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

export interface PersonalInfo {
  preset: string;
  mode: 'fine-tuned' | 'feed-forward';
  /** SHA-256 of the meta-trained model's tensors */
  sourceModel: string;
  /** where the T frames came from (photos folder, video, dataset#video) */
  source: string;
  /** dataset identity of the frames, when they came from a dataset (self-reenactment needs no retargeting) */
  identity?: string | undefined;
  steps: number;
  created: string;
}

export interface PersonalModel {
  net: NetConfig;
  info: PersonalInfo;
  /** G without P, spectral norm baked in */
  G: ParamTree;
  /** [1, |psi|] */
  psi: tf.Tensor2D;
  /** the T frames' landmarks, [T * 136], in model pixels */
  landmarks: Float32Array;
  /** T */
  frames: number;
  /**
   * the T frames themselves (uint8 RGB, T x R x R x 3) when G blends in a source warp
   * (net.sourceWarp): animation warps the nearest of them onto each driven frame
   */
  sources?: Uint8Array;
}

/** G's parameters without the projection P (the personalised model carries psi instead). */
export function withoutProjection(G: ParamTree): ParamTree {
  return Object.fromEntries(Object.entries(G).filter(([k]) => k !== 'proj'));
}

/** A personalised model as safetensors bytes (what `savePersonalModel` writes, the browser downloads). */
export function encodePersonalModel(m: PersonalModel): Uint8Array {
  const tensors = new Map<string, RawTensor>();
  for (const [p, t] of flatten(m.G))
    tensors.set(`G.${p}`, { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(t.dataSync()) });
  tensors.set('psi', { dtype: 'F32', shape: [...m.psi.shape], data: Float32Array.from(m.psi.dataSync()) });
  tensors.set('landmarks', { dtype: 'F32', shape: [m.frames, NUM_LANDMARKS, 2], data: m.landmarks });
  const r = m.net.resolution;
  if (m.sources) tensors.set('sources', { dtype: 'U8', shape: [m.frames, r, r, 3], data: m.sources });
  const meta: Record<string, string> = {
    format: PERSONAL_FORMAT,
    version: String(PERSONAL_VERSION),
    net: JSON.stringify(m.net),
    T: String(m.frames),
  };
  for (const [k, v] of Object.entries(m.info)) if (v !== undefined) meta[k] = String(v);
  return encodeSafetensors(tensors, meta);
}

export function savePersonalModel(path: string, m: PersonalModel): void {
  writeFileAtomic(path, encodePersonalModel(m));
}

/** Reads and checks a personalised model file; errors name the file and what to do. */
export function loadPersonalModel(path: string): PersonalModel {
  if (!existsSync(path))
    throw new ModelFileError(
      `Cannot load personalised model "${path}": no such file. Pass the file talking-heads fine-tune wrote (-o).`,
    );
  return decodePersonalModel(readFileSync(path), path);
}

/** Checks and loads a personalised model from its bytes; `what` names it in errors. */
export function decodePersonalModel(bytes: Uint8Array, what: string): PersonalModel {
  const fail: (why: string, fix?: string) => never = (
    why,
    fix = 'Make it again with talking-heads fine-tune',
  ) => {
    throw new ModelFileError(`Cannot load personalised model "${what}": ${why}. ${fix}.`);
  };
  let decoded;
  try {
    decoded = decodeSafetensors(bytes, what);
  } catch (e) {
    if (e instanceof SafetensorsError) fail(`it is corrupt or truncated (${e.message})`);
    throw e;
  }
  const md = decoded.metadata;
  if (md['format'] !== PERSONAL_FORMAT)
    fail(
      `it is not a personalised model (format "${md['format'] ?? 'none'}")`,
      'Fine-tune a meta-trained model first: talking-heads fine-tune --model RUN --photos DIR -o person.safetensors',
    );
  if (md['version'] !== String(PERSONAL_VERSION) && md['version'] !== '1')
    fail(`it is format version ${md['version']}, this build reads versions 1 and ${PERSONAL_VERSION}`);
  // since version 2 every file carries its checksum: one without is damaged, not old
  if (!decoded.checked && md['version'] !== '1') fail('it is corrupt (its checksum is missing)');
  noteUnchecked(decoded, what);
  let net: NetConfig;
  try {
    net = checkNetConfig(JSON.parse(md['net'] ?? 'null'));
  } catch (e) {
    return fail(`its network config is invalid (${(e as Error).message})`);
  }
  const frames = Number(md['T']);
  const lm = decoded.tensors.get('landmarks');
  const psiRaw = decoded.tensors.get('psi');
  if (!lm || lm.dtype !== 'F32' || lm.shape.join() !== `${frames},${NUM_LANDMARKS},2`)
    fail('its landmarks tensor is missing or mis-shaped');
  if (!psiRaw || psiRaw.dtype !== 'F32' || psiRaw.shape.join() !== `1,${psiSize(net)}`)
    fail(`its psi tensor is missing or not [1, ${psiSize(net)}] (preset ${md['preset']})`);
  const r = net.resolution;
  const sources = decoded.tensors.get('sources');
  if (
    net.sourceWarp &&
    (!sources || sources.dtype !== 'U8' || sources.shape.join() !== `${frames},${r},${r},3`)
  )
    fail(
      `its network warps the given frames, but their tensor "sources" is missing or not [${frames}, ${r}, ${r}, 3]`,
    );
  if (!net.sourceWarp && sources) fail('it has given frames ("sources") its network does not use');
  // Every G tensor the network needs, with its shape, and nothing else.
  const want = tf.tidy(() => withoutProjection(initGenerator(net, new Rng(0))));
  const wantFlat = flatten(want);
  const leaves = new Map<string, tf.Tensor>();
  try {
    for (const [name, raw] of decoded.tensors) {
      if (!name.startsWith('G.')) {
        if (!['psi', 'landmarks', 'sources'].includes(name)) fail(`unexpected tensor "${name}"`);
        continue;
      }
      const ref = wantFlat.get(name.slice(2));
      if (!ref) fail(`unexpected tensor "${name}" (a different network version?)`);
      if (ref.shape.join() !== raw.shape.join())
        fail(`tensor "${name}" is [${raw.shape}], preset ${md['preset']} needs [${ref.shape}]`);
    }
    for (const path2 of wantFlat.keys())
      if (!decoded.tensors.has(`G.${path2}`)) fail(`tensor "G.${path2}" is missing`);
    for (const [name, raw] of decoded.tensors)
      if (name.startsWith('G.')) leaves.set(name.slice(2), tf.tensor(raw.data as Float32Array, raw.shape));
  } catch (e) {
    tf.dispose([...leaves.values()]);
    throw e;
  } finally {
    disposeTree(want);
  }
  const info: PersonalInfo = {
    preset: md['preset'] ?? 'custom',
    mode: md['mode'] === 'feed-forward' ? 'feed-forward' : 'fine-tuned',
    sourceModel: md['sourceModel'] ?? '',
    source: md['source'] ?? '',
    identity: md['identity'],
    steps: Number(md['steps'] ?? 0),
    created: md['created'] ?? '',
  };
  return {
    net,
    info,
    G: unflatten(leaves),
    psi: tf.tensor2d(psiRaw.data as Float32Array, [1, psiSize(net)]),
    landmarks: lm.data as Float32Array,
    frames,
    ...(sources ? { sources: sources.data as Uint8Array } : {}),
  };
}

export function disposePersonal(m: PersonalModel): void {
  disposeTree(m.G);
  m.psi.dispose();
}

/** How a personal model names itself in a synthetic tag: its file, mode, preset and source model. */
export function personalModelName(file: string, m: Pick<PersonalModel, 'info'>): string {
  return `${file.split(/[\\/]/).pop()}: ${m.info.mode}, ${m.info.preset}, from meta-model ${m.info.sourceModel.slice(0, 12)}`;
}
