// Random weights in the layouts of the networks users supply (test files the loaders read).
import type { Rng } from '../../src/engine/rng.js';
import type { RawTensor } from '../../src/io/safetensors.js';
import { iresnetShapes } from '../../src/pretrained/arcface.js';
import { INCEPTION_CONVS } from '../../src/pretrained/inception.js';

type Weights = Map<string, Omit<RawTensor, 'dtype'>>;

/** Inception-v3 in pytorch-fid's state-dict names and layouts ([out, in, kh, kw]; unit BatchNorm). */
export function pytorchFidWeights(rng: Rng): Weights {
  const tensors: Weights = new Map();
  for (const c of INCEPTION_CONVS) {
    tensors.set(`${c.name}.conv.weight`, {
      shape: [c.cout, c.cin, c.kh, c.kw],
      data: rng.normalArray(c.cout * c.cin * c.kh * c.kw, 0.05),
    });
    for (const [k, v] of [
      ['weight', 1],
      ['bias', 0],
      ['running_mean', 0],
      ['running_var', 1],
    ] as const)
      tensors.set(`${c.name}.bn.${k}`, { shape: [c.cout], data: new Float32Array(c.cout).fill(v) });
  }
  return tensors;
}

/** ArcFace's IResNet in arcface_torch's names and layouts (running variances 1). */
export function arcfaceWeights(rng: Rng, depth: 50 | 100 = 50): Weights {
  const tensors: Weights = new Map();
  for (const [name, shape] of iresnetShapes(depth)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, {
      shape,
      data: name.endsWith('running_var') ? new Float32Array(n).fill(1) : rng.normalArray(n, 0.02),
    });
  }
  return tensors;
}
