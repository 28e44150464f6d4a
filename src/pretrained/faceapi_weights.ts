/**
 * Decoding face-api's bundled model files (a weights manifest + .bin shards, uint8/uint16-quantised
 * or float32) into tensors keyed by the manifest's names with '/' as '.' (e.g. "dense0.conv0.bias").
 * No I/O: the caller reads the files (tools.ts from the npm package, the browser app by fetch).
 */
import { tf } from '../engine/tf.js';

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: { dtype: 'uint8' | 'uint16'; scale: number; min: number };
}

export type FaceApiManifest = { paths: string[]; weights: ManifestWeight[] }[];

/** `read(name)`: the bytes of a file of the model folder ("<model>-weights_manifest.json", shards). */
export function decodeFaceApiWeights(
  model: string,
  read: (name: string) => Uint8Array,
): Map<string, tf.Tensor> {
  const manifest = JSON.parse(
    new TextDecoder().decode(read(`${model}-weights_manifest.json`)),
  ) as FaceApiManifest;
  const leaves = new Map<string, tf.Tensor>();
  for (const group of manifest) {
    const shards = group.paths.map(read);
    const bin = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const s of shards) {
      bin.set(s, at);
      at += s.length;
    }
    const view = new DataView(bin.buffer);
    let off = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      const q = w.quantization;
      if (q) {
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        for (let i = 0; i < n; i++)
          values[i] =
            (q.dtype === 'uint8' ? bin[off + i]! : view.getUint16(off + 2 * i, true)) * q.scale + q.min;
        off += n * bytes;
      } else {
        for (let i = 0; i < n; i++) values[i] = view.getFloat32(off + 4 * i, true);
        off += n * 4;
      }
      leaves.set(w.name.replaceAll('/', '.'), tf.tensor(values, w.shape));
    }
    if (off !== bin.length) {
      tf.dispose([...leaves.values()]);
      throw new Error(`face-api weights ${model}: manifest covers ${off} of ${bin.length} bytes`);
    }
  }
  return leaves;
}
