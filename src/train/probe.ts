/**
 * Training the engine's probe network (src/models/probe_net.ts) as an autoencoder on random smooth
 * images: the workload behind the engine tests, `doctor`'s training check, the demo and the benchmark.
 */
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import type { Tensor4 } from '../nn/layers.js';
import { disposeTree, type ParamTree } from '../nn/params.js';
import { initProbeNet, probeNet, type ProbeNetConfig } from '../models/probe_net.js';
import { loadCheckpoint, matchTree, saveCheckpoint, type CheckpointMeta } from './checkpoint.js';
import { readScalars } from './loop.js';
import { Adam, valueAndGrads } from './optim.js';

/** [B,R,R,3] in [-1,1]: a few coloured Gaussian blobs on a coloured background per image. */
export function blobImages(rng: Rng, batch: number, res: number): Float32Array {
  const out = new Float32Array(batch * res * res * 3);
  for (let b = 0; b < batch; b++) {
    const bg = [rng.next() * 2 - 1, rng.next() * 2 - 1, rng.next() * 2 - 1];
    const blobs = Array.from({ length: 4 }, () => ({
      x: rng.next() * res,
      y: rng.next() * res,
      s: (0.08 + 0.2 * rng.next()) * res,
      c: [rng.next() * 2 - 1, rng.next() * 2 - 1, rng.next() * 2 - 1],
    }));
    for (let y = 0; y < res; y++) {
      for (let x = 0; x < res; x++) {
        const px = ((b * res + y) * res + x) * 3;
        const col = [...bg];
        for (const bl of blobs) {
          const w = Math.exp(-((x - bl.x) ** 2 + (y - bl.y) ** 2) / (2 * bl.s * bl.s));
          for (let k = 0; k < 3; k++) col[k] = col[k]! * (1 - w) + bl.c[k]! * w;
        }
        for (let k = 0; k < 3; k++) out[px + k] = col[k]!;
      }
    }
  }
  return out;
}

export interface ProbeTrainer {
  params: ParamTree;
  readonly adam: Adam;
  /** One Adam step on a batch [B,R,R,3]; returns the L1 loss. */
  step(batch: Tensor4): number;
  /** Writes params and optimizer state as a checkpoint of `step`; returns its directory. */
  save(checkpointsDir: string, step: number, state?: Record<string, unknown>): string;
  dispose(): void;
}

export function probeLoss(params: ParamTree, batch: Tensor4): tf.Scalar {
  return tf.mean(tf.abs(tf.sub(probeNet(params, batch), batch)));
}

export function makeProbeTrainer(cfg: ProbeNetConfig, seed: number, lr = 1e-3): ProbeTrainer {
  const t: ProbeTrainer = {
    params: tf.tidy(() => initProbeNet(cfg, new Rng(seed))),
    get adam() {
      return adam;
    },
    step(batch) {
      const { value, grads } = tf.tidy(() => valueAndGrads((p) => probeLoss(p, batch), t.params));
      // tidy would dispose the old params the update replaces; the update disposes them itself.
      t.params = adam.update(t.params, grads);
      return readScalars({ loss: value }).loss;
    },
    save(checkpointsDir, step, state = {}) {
      const { m, v, steps } = adam.state();
      return saveCheckpoint(
        checkpointsDir,
        step,
        { params: t.params, adam_m: m, adam_v: v },
        {
          config: { probe: cfg, seed, lr },
          state: { ...state, adamSteps: steps },
        },
      );
    },
    dispose() {
      disposeTree(t.params);
      adam.dispose();
    },
  };
  const adam = new Adam({ all: { match: () => true, lr, beta1: 0.5, beta2: 0.999 } }, t.params);
  return t;
}

/** Rebuilds a trainer from a checkpoint directory written by `save`; checks every tensor's name and shape. */
export function loadProbeTrainer(dir: string): { trainer: ProbeTrainer; meta: CheckpointMeta } {
  const { meta, trees } = loadCheckpoint(dir);
  const config = meta.config as { probe: ProbeNetConfig; seed: number; lr: number };
  const t = makeProbeTrainer(config.probe, config.seed, config.lr);
  try {
    const what = `checkpoint "${dir}"`;
    const params = matchTree(trees['params'], t.params, what);
    const m = matchTree(trees['adam_m'], t.params, `${what} (optimizer)`);
    const v = matchTree(trees['adam_v'], t.params, `${what} (optimizer)`);
    disposeTree(t.params);
    t.params = params;
    t.adam.load({ m, v, steps: meta.state['adamSteps'] as Record<string, number> });
  } catch (e) {
    t.dispose();
    for (const tree of Object.values(trees)) disposeTree(tree);
    throw e;
  }
  return { trainer: t, meta };
}
