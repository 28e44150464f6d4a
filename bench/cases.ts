/**
 * Benchmark workloads. Each case builds a training step on the active backend and counts its FLOPs
 * (forward from the real layer shapes; a training step costs ~3x: forward, input and weight
 * gradients). Cases with the same name are comparable across backends.
 */
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import type { Flops } from '../src/models/layers.js';
import { discriminator, embedder, generator, psiSize } from '../src/models/networks.js';
import type { ParamTree } from '../src/models/params.js';
import { preset, type NetConfig } from '../src/models/presets.js';
import { probeNetFlops } from '../src/models/probe_net.js';
import { PAPER_WEIGHTS } from '../src/train/losses.js';
import { initMetaParams, MetaTrainer, PAPER_OPTIM, type MetaBatch } from '../src/train/meta_step.js';
import { blobImages, makeProbeTrainer } from '../src/train/probe.js';

export interface BenchCase {
  name: string;
  description: string;
  resolution: number;
  batch: number;
  /** K-shot frames per episode (1 where the workload has no episodes). */
  k: number;
  /** Backends for which the case runs by default (the cpu backend is ~100x slower). */
  defaultBackends: readonly string[];
  /** Arguments of the PyTorch reference script (bench/reference/) for the same step, if it has one. */
  pytorch?: { script: string; args: string[] };
  build(seed: number): { step(): void; flopsPerStep: number; dispose(): void };
}

function probeCase(
  resolution: number,
  batch: number,
  channels: number,
  defaultBackends: readonly string[],
): BenchCase {
  return {
    name: `probe-${resolution}px-b${batch}-c${channels}`,
    description: `probe net (residual enc-dec, IN, attention) ${resolution}px, batch ${batch}, ${channels} base channels`,
    resolution,
    batch,
    k: 1,
    defaultBackends,
    pytorch: {
      script: 'bench/reference/probe_torch.py',
      args: ['--res', String(resolution), '--batch', String(batch), '--channels', String(channels)],
    },
    build(seed) {
      const t = makeProbeTrainer({ channels, resolution }, seed);
      const x = tf.tensor4d(blobImages(new Rng(seed), batch, resolution), [batch, resolution, resolution, 3]);
      const flopsPerStep = 3 * probeNetFlops(t.params, batch, resolution);
      return {
        step: () => void t.step(x),
        flopsPerStep,
        dispose() {
          t.dispose();
          x.dispose();
        },
      };
    },
  };
}

export const CASES: BenchCase[] = [
  probeCase(32, 2, 8, ['native', 'wasm', 'cpu', 'tensorflow']),
  probeCase(64, 4, 16, ['native', 'wasm', 'cpu', 'tensorflow']),
  probeCase(128, 4, 16, ['native', 'wasm', 'tensorflow']),
];

/** Forward FLOPs of E (on B*K frames), G and D (on B) at a config, from the real layer shapes. */
export function metaForwardFlops(
  c: NetConfig,
  batch: number,
  k: number,
): { e: number; g: number; d: number } {
  return tf.tidy(() => {
    const { params } = initMetaParams(c, 1, 0);
    const r = c.resolution;
    const count = (f: (flops: Flops) => void) => {
      const flops: Flops = { total: 0 };
      f(flops);
      return flops.total;
    };
    const xk = tf.zeros([batch * k, r, r, 3]) as tf.Tensor4D;
    const x = tf.zeros([batch, r, r, 3]) as tf.Tensor4D;
    const e = count((flops) => embedder(params['E'] as ParamTree, c, xk, xk, { flops }));
    const g = count((flops) =>
      generator(params['G'] as ParamTree, c, x, tf.zeros([batch, psiSize(c)]) as tf.Tensor2D, { flops }),
    );
    const d = count((flops) =>
      discriminator(params['D'] as ParamTree, c, x, x, tf.zeros([batch], 'int32') as tf.Tensor1D, { flops }),
    );
    return { e, g, d };
  }) as unknown as { e: number; g: number; d: number };
}

/**
 * One meta-learning step at a preset on random data. FLOPs: the E/G update runs E, G and D forward
 * and backward (x3) plus D on the real images (forward only); each D update runs D twice, x3.
 */
function metaCase(
  presetName: string,
  batch: number,
  k: number,
  defaultBackends: readonly string[],
): BenchCase {
  const c = preset(presetName);
  return {
    name: `meta-${presetName}-${c.resolution}px-b${batch}-k${k}`,
    description: `meta-learning step (E+G update, 2 D updates), preset ${presetName}`,
    resolution: c.resolution,
    batch,
    k,
    defaultBackends,
    pytorch: {
      script: 'bench/reference/meta_torch.py',
      args: ['--config', JSON.stringify(c), '--batch', String(batch), '--k', String(k)],
    },
    build(seed) {
      const r = c.resolution;
      const f = metaForwardFlops(c, batch, k);
      const trainer = new MetaTrainer(c, k, PAPER_WEIGHTS, PAPER_OPTIM, initMetaParams(c, 100, seed));
      const rnd = (n: number) => tf.randomUniform([n, r, r, 3], -1, 1, 'float32', seed) as tf.Tensor4D;
      const b: MetaBatch = {
        xk: rnd(batch * k),
        yk: rnd(batch * k),
        xt: rnd(batch),
        yt: rnd(batch),
        column: tf.tensor1d(
          Array.from({ length: batch }, (_, i) => i),
          'int32',
        ),
      };
      return {
        step: () => void trainer.step(b),
        flopsPerStep: 3 * (f.e + f.g + f.d) + f.d + PAPER_OPTIM.dSteps * 3 * 2 * f.d,
        dispose() {
          trainer.dispose();
          tf.dispose([b.xk, b.yk, b.xt, b.yt, b.column]);
        },
      };
    },
  };
}

CASES.push(
  metaCase('small', 2, 4, ['native', 'wasm']),
  metaCase('small', 4, 8, ['native']),
  metaCase('medium', 4, 8, ['native']),
  metaCase('paper', 2, 8, []),
);
