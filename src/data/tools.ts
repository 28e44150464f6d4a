/**
 * Locating the external tools and model files real-media preprocessing needs: ffmpeg (on PATH first,
 * else the binary shipped by the npm package @ffmpeg-installer/ffmpeg) and the face detector and
 * landmark weights bundled with @vladmandic/face-api (and reading those weights).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { tf } from '../engine/tf.js';

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

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: { dtype: 'uint8' | 'uint16'; scale: number; min: number };
}

/**
 * Reads one of face-api's bundled models (weights manifest + .bin, uint8/uint16-quantised or
 * float32) into tensors keyed by the manifest's names with '/' as '.' (e.g. "dense0.conv0.bias").
 */
export function readFaceApiWeights(modelDir: string, model: string): Map<string, tf.Tensor> {
  const manifest = JSON.parse(readFileSync(join(modelDir, `${model}-weights_manifest.json`), 'utf8')) as {
    paths: string[];
    weights: ManifestWeight[];
  }[];
  const leaves = new Map<string, tf.Tensor>();
  for (const group of manifest) {
    const bin = Buffer.concat(group.paths.map((p) => readFileSync(join(modelDir, p))));
    let off = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      const q = w.quantization;
      if (q) {
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        for (let i = 0; i < n; i++)
          values[i] = (q.dtype === 'uint8' ? bin[off + i]! : bin.readUInt16LE(off + 2 * i)) * q.scale + q.min;
        off += n * bytes;
      } else {
        for (let i = 0; i < n; i++) values[i] = bin.readFloatLE(off + 4 * i);
        off += n * 4;
      }
      leaves.set(w.name.replaceAll('/', '.'), tf.tensor(values, w.shape));
    }
    if (off !== bin.length)
      throw new Error(`face-api weights ${model}: manifest covers ${off} of ${bin.length} bytes`);
  }
  return leaves;
}
