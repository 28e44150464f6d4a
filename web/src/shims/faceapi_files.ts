/**
 * The browser's twin of src/pretrained/faceapi_files.ts (the web build substitutes it). face-api's weights are
 * fetched once by the worker (`fetchFaceModels`) and then read from memory by the same decoder the
 * CLI uses, so the library's networks (landmarks, identity, MobileNet features) load unchanged.
 */
import { decodeFaceApiWeights, type FaceApiManifest } from '../../../src/pretrained/faceapi_weights.js';
import type { tf } from '../../../src/engine/tf.js';

const files = new Map<string, Uint8Array>();
/** where the page serves face-api's model folder */
export const FACE_MODELS_URL = '/face-api/';

/** Fetches the models' manifests and weights the app uses into memory. */
export async function fetchFaceModels(models: string[]): Promise<void> {
  const get = async (name: string) => {
    if (files.has(name)) return;
    const res = await fetch(FACE_MODELS_URL + name);
    if (!res.ok) throw new Error(`Cannot fetch face model file ${name}: HTTP ${res.status}`);
    files.set(name, new Uint8Array(await res.arrayBuffer()));
  };
  for (const m of models) {
    const manifest = `${m}-weights_manifest.json`;
    await get(manifest);
    const groups = JSON.parse(new TextDecoder().decode(files.get(manifest))) as FaceApiManifest;
    await Promise.all(groups.flatMap((g) => g.paths.map(get)));
  }
}

export function findFaceModels(): string | null {
  return FACE_MODELS_URL;
}

export function readFaceApiWeights(_dir: string, model: string): Map<string, tf.Tensor> {
  return decodeFaceApiWeights(model, (name) => {
    const f = files.get(name);
    if (!f) throw new Error(`Face model file ${name} was not fetched (fetchFaceModels)`);
    return f;
  });
}
