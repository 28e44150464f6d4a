/**
 * Benchmark workloads. Each case builds a training step on the active backend and counts its FLOPs
 * (forward from the real layer shapes; a training step costs ~3x: forward, input and weight
 * gradients). Cases with the same name are comparable across backends.
 */
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import type { Flops } from '../src/nn/layers.js';
import {
  discriminator,
  embedder,
  encoderParts,
  generator,
  generatorEncoder,
  psiSize,
} from '../src/models/networks.js';
import { flatten, type ParamTree } from '../src/nn/params.js';
import { checkNetConfig, preset, type NetConfig } from '../src/models/presets.js';
import { probeNetFlops } from '../src/models/probe_net.js';
import { defaultChunk, renderFrames } from '../src/animate/animate.js';
import { withoutProjection, type PersonalModel } from '../src/models/personal.js';
import { AdversarialTrainer } from '../src/train/adversarial.js';
import { fineTuneModel, fineTuneParams, withoutParts } from '../src/train/finetune.js';
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
  /** What a step time means for a user, e.g. "34.1 s per fine-tune" or "31 frames/s". */
  summary?: (secondsPerStep: number) => string;
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
      generator(
        params['G'] as ParamTree,
        c,
        x,
        tf.zeros([batch, psiSize(c)]) as tf.Tensor2D,
        { flops },
        c.sourceWarp ? x : undefined,
      ),
    );
    const d = count((flops) =>
      discriminator(params['D'] as ParamTree, c, x, x, tf.zeros([batch], 'int32') as tf.Tensor1D, { flops }),
    );
    return { e, g, d };
  }) as unknown as { e: number; g: number; d: number };
}

/**
 * FLOPs of D's part of a step: D on the real and the generated images forward once (shared by the
 * E/G update and D's first, train/adversarial.ts), the E/G update's backward through D(x_hat) (x2),
 * D's backward on both (x2 each), and each further D update D twice again (x3).
 */
const discriminatorFlops = (d: number, dSteps: number) => 2 * d + 2 * d + 4 * d + (dSteps - 1) * 3 * 2 * d;

/**
 * One meta-learning step at a preset on random data. FLOPs: E and G forward and backward (x3),
 * plus D's part.
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
        flopsPerStep: 3 * (f.e + f.g) + discriminatorFlops(f.d, PAPER_OPTIM.dSteps),
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

/** The network of the shipped `real-128px` (configs/real-128px-grown.yaml). */
const REAL_128PX = checkNetConfig({
  ...preset('small'),
  resolution: 128,
  embedResolution: 64,
  sourceWarp: true,
  skips: true,
});

/** The paper's fine-tuning schedule for T frames: 40 epochs, batches of 8 (sec. 3.3). */
const ftSteps = (t: number) => 40 * Math.ceil(t / Math.min(8, t));

/**
 * One fine-tuning step (G with psi' and D with w', batch 8: T = 8 at the paper's schedule is 40 of
 * them). FLOPs: G forward and backward, plus D's part.
 */
function fineTuneCase(
  presetName: string,
  defaultBackends: readonly string[],
  dSteps = PAPER_OPTIM.dSteps,
  network?: { label: string; net: NetConfig },
  // what of G trains: the paper's all of it, or the decoder (the fine-tune command's default since
  // 2026-12-07: docs/evaluation.md "Fine-tuning the decoder"), named with a -decoder suffix
  train: 'all' | 'decoder' = 'all',
): BenchCase {
  const c = network?.net ?? preset(presetName);
  const t = 8;
  const optim = { ...PAPER_OPTIM, dSteps };
  return {
    name: `finetune-${network?.label ?? presetName}-${c.resolution}px-T${t}${dSteps === PAPER_OPTIM.dSteps ? '' : `-d${dSteps}`}${train === 'all' ? '' : `-${train}`}`,
    description: `fine-tuning step (${train === 'all' ? 'G' : "G's decoder"} + psi', D + w'), batch 8, ${dSteps} D update(s) a step, ${network ? `${network.label}: ` : ''}preset ${presetName}`,
    resolution: c.resolution,
    batch: t,
    k: 1,
    defaultBackends,
    build(seed) {
      const r = c.resolution;
      const f = metaForwardFlops(c, t, 1);
      const meta = initMetaParams(c, 4, seed);
      const psi = tf.randomNormal([1, psiSize(c)], 0, 0.02, 'float32', seed) as tf.Tensor2D;
      const w = tf.randomNormal([c.embedding], 0, 0.02, 'float32', seed) as tf.Tensor1D;
      const full = fineTuneParams(meta, psi, w);
      const sn = { G: meta.sn['G'] as ParamTree, D: meta.sn['D'] as ParamTree };
      tf.dispose([psi, w, ...Object.values(meta.params).flatMap((x) => flattenTensors(x as ParamTree))]);
      const rnd = () => tf.randomUniform([t, r, r, 3], -1, 1, 'float32', seed) as tf.Tensor4D;
      // a source-warp network also takes each frame's source warp
      const frames = { xt: rnd(), yt: rnd(), ...(c.sourceWarp ? { wt: rnd() } : {}) };
      // as `personalise` runs the decoder's fine-tuning: the held encoder's outputs computed once
      const encoded =
        train === 'decoder'
          ? tf.tidy(() => generatorEncoder(full['G'] as ParamTree, c, frames.yt, {}, frames.wt))
          : undefined;
      const params = train === 'decoder' ? withoutParts(full, encoderParts(c)) : full;
      const trainer = new AdversarialTrainer(fineTuneModel(c, train), PAPER_WEIGHTS, optim, {
        params,
        sn,
      });
      const b = { ...frames, encoded };
      return {
        step: () => void trainer.step(b),
        // all of G's (forward + both backward passes): the -decoder cases skip the encoder and part
        // of the backward pass, so their GFLOP/s reads high; compare their seconds
        flopsPerStep: 3 * f.g + discriminatorFlops(f.d, dSteps),
        dispose() {
          trainer.dispose();
          tf.dispose([b.xt, b.yt, ...(b.wt ? [b.wt] : []), ...(encoded ?? [])]);
        },
      };
    },
    summary: (s) => `${(ftSteps(t) * s).toFixed(1)} s per fine-tune (T = ${t}: ${ftSteps(t)} steps)`,
  };
}

/** Animation: landmark images rasterised and run through G' (psi' fixed), as many per call as `animate` takes. */
function animateCase(presetName: string, defaultBackends: readonly string[]): BenchCase {
  const c = preset(presetName);
  const n = defaultChunk(c.resolution); // what `animate` uses
  return {
    name: `animate-${presetName}-${c.resolution}px`,
    description: `animation: G' on ${n} landmark images per call, preset ${presetName}`,
    resolution: c.resolution,
    batch: n,
    k: 1,
    defaultBackends,
    build(seed) {
      const f = metaForwardFlops(c, n, 1);
      const meta = initMetaParams(c, 1, seed);
      const model: PersonalModel = {
        net: c,
        info: {
          preset: presetName,
          mode: 'feed-forward',
          sourceModel: '',
          source: 'bench',
          steps: 0,
          created: '',
        },
        G: withoutProjection(meta.params['G'] as ParamTree),
        psi: tf.randomNormal([1, psiSize(c)], 0, 0.02, 'float32', seed) as tf.Tensor2D,
        landmarks: new Float32Array(136),
        frames: 1,
      };
      // a face-like ring of landmarks at this resolution, moving a little from call to call
      let k = 0;
      const lms = () =>
        Array.from({ length: n }, (_, i) =>
          Float32Array.from({ length: 136 }, (_, j) => {
            const a = (j >> 1) * 0.37 + (k + i) * 0.05;
            const r = c.resolution;
            return j % 2 === 0 ? r / 2 + 0.3 * r * Math.cos(a) : r / 2 + 0.3 * r * Math.sin(a);
          }),
        );
      return {
        step: () => {
          k++;
          renderFrames(model, lms());
        },
        flopsPerStep: f.g,
        dispose() {
          tf.dispose([model.psi, ...flattenTensors(meta.params), ...flattenTensors(meta.sn)]);
        },
      };
    },
    summary: (s) => `${(n / s).toFixed(1)} frames/s`,
  };
}

const flattenTensors = (t: ParamTree): tf.Tensor[] => [...flatten(t).values()];

CASES.push(
  fineTuneCase('small', ['native', 'wasm']),
  fineTuneCase('medium', ['native']),
  // as the shipped models fine-tune: one D update a step (their meta-training config's dSteps)
  fineTuneCase('medium', [], 1),
  fineTuneCase('paper', []),
  // the shipped real-128px's network: the small preset's G grown to 128 px, E and D at 64 px, with
  // the source warp and skips (docs/design.md sec. 3.5), fine-tuned as it ships (one D update)
  fineTuneCase('small', ['native'], 1, { label: 'real', net: REAL_128PX }),
  // as `fine-tune` runs by default: G's encoder and residual blocks frozen (their backward pass
  // goes no further than psi' needs: no filter gradients there, nothing into the encoder)
  fineTuneCase('medium', [], PAPER_OPTIM.dSteps, undefined, 'decoder'),
  fineTuneCase('medium', [], 1, undefined, 'decoder'),
  fineTuneCase('small', [], 1, { label: 'real', net: REAL_128PX }, 'decoder'),
  animateCase('small', ['native', 'wasm']),
  animateCase('medium', ['native']),
  animateCase('paper', ['native']),
);
