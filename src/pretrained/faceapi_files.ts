/**
 * face-api's model files as the npm package @vladmandic/face-api ships them: where they are, and
 * reading one model's weights (decoded by faceapi_weights.ts). The browser build swaps this module
 * for web/src/shims/faceapi_files.ts, which serves the same files from memory after a fetch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { tf } from '../engine/tf.js';
import { decodeFaceApiWeights } from './faceapi_weights.js';

const require = createRequire(import.meta.url);

/** The folder of face-api's bundled weights, or null when the package is not installed. */
export function findFaceModels(): string | null {
  try {
    const pkg = require.resolve('@vladmandic/face-api/package.json');
    const dir = join(dirname(pkg), 'model');
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/** Reads one of face-api's bundled models from its folder. */
export function readFaceApiWeights(modelDir: string, model: string): Map<string, tf.Tensor> {
  return decodeFaceApiWeights(model, (name) => readFileSync(join(modelDir, name)));
}
