/**
 * Benchmark workloads. Each case builds a training step on the active backend and counts its FLOPs
 * (forward from the real layer shapes; a training step costs ~3x: forward, input and weight
 * gradients). Cases with the same name are comparable across backends.
 */
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import { probeNetFlops } from '../src/models/probe_net.js';
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

export const CASES: readonly BenchCase[] = [
  probeCase(32, 2, 8, ['native', 'wasm', 'cpu', 'tensorflow']),
  probeCase(64, 4, 16, ['native', 'wasm', 'cpu', 'tensorflow']),
  probeCase(128, 4, 16, ['native', 'wasm', 'tensorflow']),
];
