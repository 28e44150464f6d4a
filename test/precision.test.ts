// Issue 25: bf16 inference (engine/precision.ts, native/isa.h). Animation runs its forward
// convolutions in bfloat16 on CPUs with AVX-512 BF16 only because its frames stay within SSIM 0.995
// of the float32 ones: checked here on the shipped real-face models at 64 and 128 px.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generatorInputs, renderFrames } from '../src/animate/animate.js';
import { initEngine, nativeAvailable } from '../src/engine/backend.js';
import { nativeBf16, nativeLoadError } from '../src/engine/native.js';
import {
  inferencePrecision,
  PRECISION_ENV,
  trainingPrecision,
  withInferencePrecision,
} from '../src/engine/precision.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { relativeError } from '../src/engine/kernel_check.js';
import { Rng } from '../src/engine/rng.js';
import { metaTrain, resolveMetaConfig } from '../src/train/meta.js';
import { writeTinyDataset } from './helpers/data.js';
import { tempDir } from './helpers/tmp.js';
import { ssim } from '../src/eval/metrics.js';
import { tf } from '../src/engine/tf.js';
import { toRgb8 } from '../src/media/image.js';
import { generatorParts } from '../src/models/networks.js';
import { LANDMARK_VALUES } from '../src/faces/landmarks.js';
import { disposePersonalised, FineTuneConfigSchema, personalise } from '../src/train/finetune.js';
import { disposeModel, loadMetaModel, resolveModel } from '../src/train/model.js';
import { renderVideo } from '../src/synthetic/worker.js';

const skip = !nativeAvailable()
  ? `native addon ${nativeLoadError()}`
  : !nativeBf16().cpu
    ? 'this CPU has no AVX-512 BF16 (bf16 inference is off here)'
    : false;

describe('bf16 inference', { skip }, () => {
  const saved = process.env[PRECISION_ENV];
  before(async () => {
    await initEngine({ backend: 'native', threads: 2 });
    delete process.env.TALKING_HEADS_PRECISION;
  });
  after(() => {
    if (saved === undefined) delete process.env.TALKING_HEADS_PRECISION;
    else process.env[PRECISION_ENV] = saved;
  });

  test('is the default on this CPU, off with TALKING_HEADS_PRECISION=f32, and only inside the pass', () => {
    assert.equal(inferencePrecision().precision, 'bf16');
    assert.equal(
      withInferencePrecision(() => nativeBf16().active),
      true,
    );
    assert.equal(nativeBf16().active, false, 'training convolutions stay float32');
    process.env[PRECISION_ENV] = 'f32';
    assert.equal(
      withInferencePrecision(() => nativeBf16().active),
      false,
    );
    process.env[PRECISION_ENV] = 'f16';
    assert.throws(() => inferencePrecision(), /use f32 or bf16/);
    delete process.env.TALKING_HEADS_PRECISION;
  });

  for (const name of ['real-64px', 'real-128px']) {
    test(`${name}: animated frames and G's drawing within SSIM 0.995 of float32`, async (t) => {
      const meta = loadMetaModel(resolveModel(name));
      const r = meta.net.resolution;
      // a procedural person (T = 1) driven by 6 frames of its own motion
      const v = renderVideo({ seed: 3, identity: 7, sequence: 1, frames: 7, size: r, frameStep: 5 });
      const fb = r * r * 3;
      const p = await personalise(
        meta,
        {
          rgb: v.frames.slice(0, fb),
          landmarks: v.landmarks.slice(0, LANDMARK_VALUES),
          count: 1,
          resolution: r,
          source: 'procedural',
          indices: [0],
        },
        FineTuneConfigSchema.parse({ finetune: false }),
        null,
      );
      const drive = Array.from({ length: 6 }, (_, i) =>
        v.landmarks.slice((i + 1) * LANDMARK_VALUES, (i + 2) * LANDMARK_VALUES),
      );
      // the frames animate writes, and G's own drawing under them (where the mask is ~1 the frames
      // are the warp whatever the precision; the drawing is not)
      const run = () => {
        const frames = renderFrames(p.model, drive);
        const drawn = tf.tidy(() => {
          const { y, warps, shape } = generatorInputs(p.model, drive);
          const yt = tf.tensor4d(y, shape);
          const wt = tf.tensor4d(warps!, shape);
          const psi = tf.tile(p.model.psi, [drive.length, 1]) as tf.Tensor2D;
          return withInferencePrecision(() => generatorParts(p.model.G, p.model.net, yt, psi, {}, wt).drawn!);
        });
        const d = drawn.dataSync();
        drawn.dispose();
        return { frames, drawn: drive.map((_, i) => toRgb8(d.subarray(i * fb, (i + 1) * fb), r, r)) };
      };
      process.env[PRECISION_ENV] = 'f32';
      const f32 = run();
      delete process.env.TALKING_HEADS_PRECISION;
      const bf16 = run();
      for (const part of ['frames', 'drawn'] as const) {
        const worst = Math.min(...f32[part].map((a, i) => ssim(a, bf16[part][i]!)));
        t.diagnostic(`${name} ${part}: worst SSIM bf16 vs f32 ${worst.toFixed(4)}`);
        assert.ok(worst >= 0.995, `${name} ${part}: worst SSIM ${worst.toFixed(4)} (bf16 vs f32)`);
      }
      // evaluation's float32 (renderTrack / renderFrames `float32`) is float32 whatever the CPU
      const kept = renderFrames(p.model, drive, { float32: true });
      kept.forEach((k, i) => assert.deepEqual(k.data, f32.frames[i]!.data));
      // and bf16 really ran: rounding moves some pixels of G's drawing
      assert.ok(
        f32.drawn.some((a, i) => a.data.some((x, j) => x !== bf16.drawn[i]!.data[j])),
        'bf16 drawings equal the f32 ones: the bf16 kernels did not run',
      );
      disposePersonalised(p);
      disposeModel(meta);
      assert.equal(nativeBf16().active, false);
    });
  }
});

describe('bf16 training (--precision bf16)', { skip }, () => {
  before(async () => {
    await initEngine({ backend: 'native', threads: 2 });
  });

  test('the three passes of direct convolutions run in bf16: close to float32, not equal', () => {
    const rng = new Rng(23);
    // 8 -> 16 channels (below Winograd's 32: oneDNN's direct kernels), a 3x3 and a 9x9
    for (const k of [3, 9]) {
      const x = tf.tensor4d(rng.normalArray(2 * 12 * 12 * 8), [2, 12, 12, 8]);
      const w = tf.tensor4d(rng.normalArray(k * k * 8 * 16, 0.1), [k, k, 8, 16]);
      const run = () =>
        tf.tidy(() => {
          const y = tf.conv2d(x, w, 1, 'same');
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), y)),
          )([x, w]);
          return [y, dx!, dw!].map((t) => t.dataSync().slice());
        });
      const f32 = run();
      const restore = trainingPrecision('bf16', () => {});
      assert.equal(nativeBf16().training, true);
      const bf16 = run();
      restore();
      assert.equal(nativeBf16().training, false);
      ['forward', 'backward-data', 'filter gradient'].forEach((pass, i) => {
        const e = relativeError(bf16[i]!, f32[i]!);
        // bf16 keeps 8 bits of mantissa (~4e-3 per operand); sums stay f32
        assert.ok(e > 1e-5 && e < 5e-2, `${k}x${k} ${pass}: relative error ${e} against float32`);
      });
      tf.dispose([x, w]);
    }
  });

  test('meta-train --precision bf16 trains, records it, and leaves float32 behind', async () => {
    const data = join(tempDir(), 'ds');
    await writeTinyDataset(data);
    const logs: string[] = [];
    const res = await metaTrain(
      resolveMetaConfig(undefined, {
        data,
        preset: 'tiny',
        k: 2,
        batch: 2,
        steps: 3,
        out: tempDir(),
        precision: 'bf16',
        sampleEvery: 3,
        checkpointEvery: 1000,
        logEvery: 1,
      }),
      undefined,
      { log: (s) => logs.push(s) },
    );
    assert.equal(res.stopped, 'done');
    assert.ok(Number.isFinite(res.last!['lossEG']!));
    const saved = JSON.parse(readFileSync(join(res.dir, 'config.json'), 'utf8')) as {
      config: { precision: string };
    };
    assert.equal(saved.config.precision, 'bf16');
    assert.equal(nativeBf16().training, false);
  });
});
