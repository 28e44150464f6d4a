/**
 * Locating the external tools and model files real-media preprocessing needs: ffmpeg (on PATH first,
 * else the binary shipped by the npm package @ffmpeg-installer/ffmpeg) and the face detector and
 * landmark weights bundled with @vladmandic/face-api (and reading those weights).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import type { tf } from '../engine/tf.js';
import { decodeFaceApiWeights } from './face_weights.js';

const require = createRequire(import.meta.url);

export interface Found {
  path: string;
  source: 'PATH' | 'npm';
}

function onPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function findFfmpeg(): Found | null {
  const p = onPath('ffmpeg');
  if (p) return { path: p, source: 'PATH' };
  try {
    const mod = require('@ffmpeg-installer/ffmpeg') as { path: string };
    if (existsSync(mod.path)) return { path: mod.path, source: 'npm' };
  } catch {
    // package not installed
  }
  return null;
}

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

/** Reads one of face-api's bundled models from its folder (see face_weights.ts). */
export function readFaceApiWeights(modelDir: string, model: string): Map<string, tf.Tensor> {
  return decodeFaceApiWeights(model, (name) => readFileSync(join(modelDir, name)));
}
