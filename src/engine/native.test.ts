// The native (oneDNN addon) backend against the cpu reference: every kernel it runs natively, values
// and gradients, with broadcasting, odd shapes, strides, paddings and dilations, plus a whole-network
// gradient check. Runs where the addon is built (CI installs libdnnl-dev); elsewhere the project runs
// on wasm and these tests report why they were skipped.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initEngine, nativeAvailable } from './backend.js';
import { compareWithCpu, HEALTH_CASES, relativeError, type KernelCase } from './kernel_check.js';
import { NATIVE_ISAS, nativeIsa, nativeLoadError, nativePoolStats, nativeWinograd } from './native.js';
import { loadAddon } from './native/addon.js';
import { profileKernels } from './profile.js';
import { Rng } from './rng.js';
import { tf, type Tensor } from './tf.js';
import { powerIteration, spectralNorm } from '../models/blocks.js';
import { attention, conv2d, initAttention, instanceNorm, instanceNormRelu } from '../nn/layers.js';
import { ATTENTION_KERNEL, hasFused } from './fused.js';
import { flatten, type ParamTree } from '../nn/params.js';
import { initProbeNet } from '../models/probe_net.js';
import { Adam, valueAndGrads } from '../train/optim.js';
import { blobImages, probeLoss } from '../train/probe.js';

const skip = nativeAvailable() ? false : `native addon ${nativeLoadError()}`;
const t4 = (x: Tensor | undefined) => x as tf.Tensor4D;

async function expectMatch(cases: KernelCase[], tol = 1e-5): Promise<void> {
  const results = await compareWithCpu('native', cases);
  const bad = results
    .filter((r) => !(r.worst < tol))
    .map((r) => `${r.name}: ${r.relErrors.map((e) => e.toExponential(1)).join(' ')}`);
  assert.deepEqual(bad, [], 'cases where native differs from cpu');
}

describe('native backend kernels match the cpu backend', { skip }, () => {
  before(async () => {
    await initEngine({ backend: 'native', threads: 2 });
  });

  test('convolutions: kernels 1/3/4/9, strides 1/2, same/valid/explicit padding, dilation, odd sizes', async () => {
    const cases: KernelCase[] = [];
    for (const k of [1, 3, 4, 9]) {
      for (const s of [1, 2]) {
        for (const pad of ['same', 'valid'] as const) {
          cases.push({
            name: `k${k} s${s} ${pad}`,
            inputs: [
              [2, 13, 11, 3],
              [k, k, 3, 5],
            ],
            fn: (x, f) => tf.conv2d(t4(x), t4(f), s, pad),
          });
        }
      }
    }
    cases.push({
      name: 'explicit padding',
      inputs: [
        [2, 10, 7, 4],
        [3, 3, 4, 6],
      ],
      fn: (x, f) =>
        tf.conv2d(t4(x), t4(f), 1, [
          [0, 0],
          [1, 2],
          [0, 1],
          [0, 0],
        ]),
    });
    cases.push({
      name: 'dilation 2 (forward only: tfjs has no dilated gradients)',
      inputs: [
        [1, 12, 12, 3],
        [3, 3, 3, 4],
      ],
      grads: false,
      fn: (x, f) => tf.conv2d(t4(x), t4(f), 1, 'same', 'NHWC', 2),
    });
    cases.push({
      name: 'wide channels',
      inputs: [
        [2, 16, 16, 32],
        [3, 3, 32, 48],
      ],
      fn: (x, f) => tf.conv2d(t4(x), t4(f), 1, 'same'),
    });
    await expectMatch(cases);
  });

  test('face detection kernels: depthwise conv (strides, paddings, dilation), batch norm, clip', async () => {
    const cases: KernelCase[] = [];
    for (const k of [1, 3, 5]) {
      for (const s of [1, 2]) {
        for (const pad of ['same', 'valid'] as const) {
          cases.push({
            name: `depthwise k${k} s${s} ${pad}`,
            inputs: [
              [2, 13, 11, 7],
              [k, k, 7, 1],
            ],
            fn: (x, f) => tf.depthwiseConv2d(t4(x), t4(f), s, pad),
          });
        }
      }
    }
    cases.push({
      name: 'depthwise dilation 2',
      inputs: [
        [1, 12, 12, 16],
        [3, 3, 16, 1],
      ],
      grads: false,
      fn: (x, f) => tf.depthwiseConv2d(t4(x), t4(f), 1, 'same', 'NHWC', 2),
    });
    cases.push({
      name: 'depthwise channel multiplier 2 (JavaScript fallback)',
      inputs: [
        [1, 9, 9, 4],
        [3, 3, 4, 2],
      ],
      fn: (x, f) => tf.depthwiseConv2d(t4(x), t4(f), 1, 'same'),
    });
    cases.push({
      name: 'batch norm over channels',
      inputs: [[2, 5, 6, 8], [8], [8], [8], [8]],
      // variance must be positive: use its square plus a margin
      fn: (x, m, v, o, g) => tf.batchNorm(x!, m!, tf.add(tf.square(v!), 0.1), o!, g!, 1e-3),
    });
    cases.push({
      name: 'batch norm without offset and scale, scalar mean',
      inputs: [[3, 4, 5], [1], [5]],
      grads: false, // TF.js's batchNorm gradient needs a scale tensor (on every backend)
      fn: (x, m, v) => tf.batchNorm(x!, m!, tf.add(tf.square(v!), 0.1), undefined, undefined, 1e-3),
    });
    cases.push({
      name: 'clip to [-0.3, 0.5] (relu6-style)',
      inputs: [[4, 33, 17]],
      fn: (x) => tf.clipByValue(x!, -0.3, 0.5),
    });
    await expectMatch(cases);
    // NaN passes through clip, as on cpu
    const y = await tf.clipByValue(tf.tensor1d([NaN, -2, 0.5, 9]), 0, 6).data();
    assert.deepEqual(Array.from(y), [NaN, 0, 0.5, 6]);
  });

  test('matmul with transposes and batch broadcasting', async () => {
    const shapes: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[2, 4, 5, 7], [7, 3], false, false],
      [[1, 5, 7], [4, 7, 3], false, false],
    ];
    await expectMatch(
      shapes.map(([a, b, ta, tb]) => ({
        name: `[${a}]${ta ? 'T' : ''} x [${b}]${tb ? 'T' : ''}`,
        inputs: [a, b],
        grads: a.length === b.length && a.slice(0, -2).join() === b.slice(0, -2).join(),
        fn: (x, y) => tf.matMul(x!, y!, ta, tb),
      })),
    );
  });

  test('elementwise ops with broadcasting', async () => {
    const cases: KernelCase[] = [];
    const bin: [string, (a: Tensor, b: Tensor) => Tensor][] = [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['div', (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
      ['squaredDifference', tf.squaredDifference],
      ['pow', (a, b) => tf.pow(tf.add(tf.abs(a), 0.1), b)],
    ];
    for (const [name, f] of bin) {
      for (const [sa, sb] of [
        [
          [2, 3, 4, 5],
          [2, 3, 4, 5],
        ],
        [[2, 3, 4, 5], [5]],
        [
          [2, 3, 4, 5],
          [2, 1, 1, 5],
        ],
        [[1], [3, 4]],
        [
          [3, 1, 5],
          [1, 4, 1],
        ],
      ]) {
        // tfjs-core's Maximum/Minimum/SquaredDifference gradients do not reduce broadcast dimensions (any backend)
        const broadcastMinMax =
          ['maximum', 'minimum', 'squaredDifference'].includes(name) && sa!.join() !== sb!.join();
        cases.push({
          name: `${name} [${sa}] [${sb}]`,
          inputs: [sa!, sb!],
          grads: !broadcastMinMax,
          fn: (a, b) => f(a!, b!),
        });
      }
    }
    const un: [string, (x: Tensor) => Tensor][] = [
      ['relu', tf.relu],
      ['tanh', tf.tanh],
      // both branches of the native tanh (polynomial below 0.625, exp above) and its saturation
      ['tanh x 6', (x) => tf.tanh(tf.mul(x, 6))],
      ['tanh x 0.01', (x) => tf.tanh(tf.mul(x, 0.01))],
      ['sigmoid', tf.sigmoid],
      ['exp', tf.exp],
      ['log', (x) => tf.log(tf.add(tf.abs(x), 0.1))],
      ['sqrt', (x) => tf.sqrt(tf.add(tf.abs(x), 0.1))],
      ['rsqrt', (x) => tf.rsqrt(tf.add(tf.abs(x), 0.1))],
      ['square', tf.square],
      ['neg', tf.neg],
      ['abs', tf.abs],
      ['elu', tf.elu],
      ['leakyRelu', (x) => tf.leakyRelu(x, 0.2)],
      ['softplus', tf.softplus],
      ['reciprocal', (x) => tf.reciprocal(tf.add(tf.abs(x), 0.5))],
      ['sign', tf.sign],
    ];
    for (const [name, f] of un) cases.push({ name, inputs: [[3, 7, 5]], fn: (x) => f(x!) });
    cases.push({
      name: 'addN',
      inputs: [
        [4, 6],
        [4, 6],
        [4, 6],
      ],
      fn: (a, b, c) => tf.addN([a!, b!, c!]),
    });
    await expectMatch(cases);
  });

  test('reductions over every axis pattern, softmax, transpose, pooling (average, max), resize', async () => {
    const cases: KernelCase[] = [];
    for (const axes of [[0], [1], [3], [1, 2], [0, 1, 2], [0, 2], [0, 3], [0, 1, 2, 3]]) {
      for (const keep of [false, true]) {
        cases.push({
          name: `sum ${axes} keep=${keep}`,
          inputs: [[3, 4, 5, 6]],
          fn: (x) => tf.sum(x!, axes, keep),
        });
      }
      cases.push({ name: `mean ${axes}`, inputs: [[3, 4, 5, 6]], fn: (x) => tf.mean(x!, axes) });
      cases.push({ name: `max ${axes}`, inputs: [[3, 4, 5, 6]], fn: (x) => tf.max(x!, axes) });
    }
    // a bias gradient: many rows into a few sums, split into fixed row blocks across threads
    for (const [axes, shape] of [
      [
        [0, 1, 2],
        [4, 40, 40, 12],
      ],
      [
        [1, 2],
        [2, 64, 64, 5],
      ],
    ] as const) {
      cases.push({ name: `sum ${axes} of [${shape}]`, inputs: [shape], fn: (x) => tf.sum(x!, [...axes]) });
      cases.push({ name: `mean ${axes} of [${shape}]`, inputs: [shape], fn: (x) => tf.mean(x!, [...axes]) });
    }
    cases.push({
      name: 'moments (instance norm)',
      inputs: [[2, 8, 8, 4]],
      fn: (x) => tf.moments(x!, [1, 2], true).variance,
    });
    cases.push({ name: 'softmax', inputs: [[3, 5, 17]], fn: (x) => tf.softmax(x!) });
    // wide logits: exp's range reduction over many powers of two, and underflow to ~0
    cases.push({ name: 'softmax of wide logits', inputs: [[4, 300]], fn: (x) => tf.softmax(tf.mul(x!, 60)) });
    // strided slices (native rows) and contiguous ones (views); the gradient pads back
    const slices: [number[], number[], number[]][] = [
      [
        [2, 5, 4, 6],
        [0, 1, 1, 2],
        [2, 3, 2, 3],
      ],
      [
        [2, 5, 4, 6],
        [1, 0, 0, 3],
        [1, -1, -1, 3],
      ],
      [
        [2, 5, 4, 6],
        [1, 2, 0, 0],
        [1, 2, 4, 6],
      ],
      [
        [7, 9],
        [2, 3],
        [4, 5],
      ],
      [[11], [3], [6]],
    ];
    for (const [shape, begin, size] of slices)
      cases.push({
        name: `slice ${shape} at ${begin} size ${size}`,
        inputs: [shape],
        fn: (x) => tf.slice(x!, begin, size),
      });
    cases.push({ name: 'transpose', inputs: [[2, 3, 4, 5]], fn: (x) => tf.transpose(x!, [3, 1, 0, 2]) });
    // the first axis natively, others through the fallback (its gradient: a sum over the copies)
    for (const [shape, reps] of [
      [
        [1, 7],
        [5, 1],
      ],
      [
        [2, 3, 4],
        [3, 1, 1],
      ],
      [
        [2, 3],
        [2, 2],
      ],
    ] as const)
      cases.push({
        name: `tile ${shape} by ${reps}`,
        inputs: [[...shape]],
        fn: (x) => tf.tile(x!, [...reps]),
      });
    for (const axis of [0, 1, 3]) {
      cases.push({
        name: `concat axis ${axis}`,
        inputs: [
          [2, 3, 4, 5],
          [2, 3, 4, 5],
        ],
        fn: (a, b) => tf.concat([a!, b!], axis),
      });
      cases.push({
        name: `split axis ${axis}`,
        inputs: [[4, 6, 2, 8]],
        fn: (x) => tf.mul(tf.split(x!, 2, axis)[1]!, 2),
      });
    }
    cases.push({
      name: 'concat of three, channels',
      inputs: [
        [2, 3, 4, 1],
        [2, 3, 4, 2],
        [2, 3, 4, 3],
      ],
      fn: (a, b, c) => tf.concat([a!, b!, c!], 3),
    });
    for (const [k, s, pad, h, w] of [
      [2, 2, 'valid', 8, 6],
      [3, 2, 'same', 9, 7],
      [3, 1, 'same', 5, 6],
      [2, 2, 'valid', 9, 7],
    ] as const) {
      cases.push({
        name: `avgPool k${k} s${s} ${pad} ${h}x${w}`,
        inputs: [[2, h, w, 3]],
        fn: (x) => tf.avgPool(t4(x), k, s, pad),
      });
      cases.push({
        name: `maxPool k${k} s${s} ${pad} ${h}x${w}`,
        inputs: [[2, h, w, 3]],
        fn: (x) => tf.maxPool(t4(x), k, s, pad),
      });
    }
    for (const [size, align, half] of [
      [[8, 10], false, false],
      [[8, 10], false, true],
      [[8, 10], true, false],
      [[7, 13], false, true],
      [[3, 4], false, false],
    ] as const) {
      cases.push({
        name: `bilinear ${size} ${align} ${half}`,
        inputs: [[3, 4, 5, 2]],
        fn: (x) => tf.image.resizeBilinear(t4(x), [...size], align, half),
      });
      cases.push({
        name: `nearest ${size} ${align} ${half}`,
        inputs: [[3, 4, 5, 2]],
        fn: (x) => tf.image.resizeNearestNeighbor(t4(x), [...size], align, half),
      });
    }
    cases.push(...HEALTH_CASES);
    await expectMatch(cases);
    // int32 transpose and reductions fall back or run natively, with the right values
    const t = tf.tidy(() => tf.transpose(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32')));
    assert.deepEqual([...t.dataSync()], [1, 4, 2, 5, 3, 6]);
    assert.equal(t.dtype, 'int32');
    t.dispose();
  });

  test('int32 slices copy the integers', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const x = tf.tensor3d([...Array(24).keys()], [2, 3, 4], 'int32');
    const y = tf.slice(x, [0, 1, 1], [2, 2, 2]);
    assert.equal(y.dtype, 'int32');
    assert.deepEqual([...y.dataSync()], [5, 6, 9, 10, 17, 18, 21, 22]);
    tf.dispose([x, y]);
  });

  test('fused Adam equals the tensor arithmetic', async () => {
    const run = async (backend: string) => {
      await initEngine({ backend, threads: 2 });
      let params = { w: tf.tensor(new Rng(1).normalArray(1000), [10, 100]) };
      const adam = new Adam({ all: { match: () => true, lr: 0.01, beta1: 0.5, beta2: 0.999 } }, params);
      for (let i = 0; i < 3; i++)
        params = adam.update(params, {
          w: tf.tensor(new Rng(i + 5).normalArray(1000), [10, 100]),
        }) as typeof params;
      const out = params.w.dataSync().slice();
      adam.dispose();
      params.w.dispose();
      return out;
    };
    const a = await run('cpu');
    const b = await run('native');
    assert.ok(relativeError(b, a) < 1e-6, `fused Adam differs: ${relativeError(b, a)}`);
  });

  test('fused spectral norm equals its composition twin: u, v, W / sigma and its gradient', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const rng = new Rng(11);
    // a linear weight, conv filters 1x1 / 3x3 / 9x9, and one large enough for the threaded paths
    const shapes = [
      [13, 4],
      [1, 1, 6, 5],
      [3, 3, 5, 7],
      [9, 9, 3, 8],
      [3, 3, 128, 130],
    ];
    for (const shape of shapes) {
      const o = shape[shape.length - 1]!;
      const params = { weight: tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b)), shape) };
      const us = { weight: tf.tensor1d(rng.normalArray(o)) };
      const dy = tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b)), shape);
      for (const update of [true, false]) {
        const run = (fused: boolean) =>
          tf.tidy(() => {
            const { u, v } = powerIteration(params, us, update, fused);
            const { value, grads } = valueAndGrads(
              (p) => tf.sum(tf.mul(spectralNorm(p, u, v, fused)['weight'] as Tensor, dy)) as tf.Scalar,
              params,
            );
            return [u['weight'], v['weight'], value, grads['weight']].map((t) =>
              (t as Tensor).dataSync().slice(),
            );
          }) as unknown as Float32Array[];
        const ref = run(false);
        const got = run(true);
        ['u', 'v', 'sum(dy * W / sigma)', 'dL/dW'].forEach((what, i) => {
          const e = relativeError(got[i]!, ref[i]!);
          assert.ok(e < 1e-5, `${what} of [${shape}] (update ${update}): relative error ${e}`);
        });
      }
      tf.dispose([params.weight, us.weight, dy]);
    }
  });

  test('fused instance norm / AdaIN equals its composition twin: values and gradients', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const rng = new Rng(13);
    const cases: { x: number[]; g: number[] }[] = [
      { x: [2, 5, 3, 7], g: [7] }, // IN with shared gamma/beta, odd sizes, C not a multiple of 16
      { x: [3, 4, 4, 20], g: [3, 1, 1, 20] }, // AdaIN: per-sample scale and shift
      { x: [4, 32, 32, 40], g: [4, 1, 1, 40] }, // large enough for the threaded path
    ];
    for (const { x: xs, g: gs } of cases) {
      const n = xs.reduce((a, b) => a * b);
      const m = gs.reduce((a, b) => a * b);
      const params = {
        x: tf.add(tf.mul(tf.tensor(rng.normalArray(n), xs), 3), 1.5),
        gamma: tf.tensor(rng.normalArray(m), gs),
        beta: tf.tensor(rng.normalArray(m), gs),
      };
      const dy = tf.tensor(rng.normalArray(n), xs);
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const { value, grads } = valueAndGrads(
            (p) =>
              tf.sum(
                tf.mul(
                  instanceNorm(p['x'] as tf.Tensor4D, p['gamma'] as Tensor, p['beta'] as Tensor, 1e-5, fused),
                  dy,
                ),
              ) as tf.Scalar,
            params,
          );
          const y = instanceNorm(params.x as tf.Tensor4D, params.gamma, params.beta, 1e-5, fused);
          return [y, value, grads['x'], grads['gamma'], grads['beta']].map((t) =>
            (t as Tensor).dataSync().slice(),
          );
        }) as unknown as Float32Array[];
      const ref = run(false);
      const got = run(true);
      ['y', 'sum(dy * y)', 'dx', 'dgamma', 'dbeta'].forEach((what, i) => {
        const e = relativeError(got[i]!, ref[i]!);
        assert.ok(e < 1e-5, `${what} of x [${xs}], gamma [${gs}]: relative error ${e}`);
      });
      // and with the ReLU in the same pass (inference)
      const [fusedRelu, composed] = [true, false].map((inference) =>
        tf.tidy(() =>
          instanceNormRelu(params.x as tf.Tensor4D, params.gamma, params.beta, inference)
            .dataSync()
            .slice(),
        ),
      );
      const e = relativeError(fusedRelu!, composed!);
      assert.ok(e < 1e-5, `relu(instance norm) of x [${xs}]: relative error ${e}`);
      tf.dispose([...Object.values(params), dy]);
    }
  });

  test('conv + bias in one kernel equals conv then add: values and gradients', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const rng = new Rng(14);
    // [x shape, k, ci -> co, stride, pad]: odd sizes, 1x1, the 9x9 forward that runs as mirrored
    // backward-data, strided, and shapes whose filter gradient runs in the blocked layout
    const cases: [number[], number, number, number, 'same' | 'valid'][] = [
      [[2, 9, 7, 5], 3, 6, 1, 'same'],
      [[2, 8, 8, 4], 1, 3, 1, 'same'],
      [[2, 24, 24, 16], 9, 16, 1, 'same'],
      [[3, 10, 10, 8], 4, 8, 2, 'valid'],
      [[2, 64, 64, 16], 3, 16, 1, 'same'],
    ];
    for (const [xs, k, co, stride, pad] of cases) {
      const ci = xs[3]!;
      const params = {
        x: tf.tensor(rng.normalArray(xs.reduce((a, b) => a * b)), xs),
        weight: tf.tensor(rng.normalArray(k * k * ci * co, 0.2), [k, k, ci, co]),
        bias: tf.tensor1d(rng.normalArray(co)),
      };
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const f = (p: Record<string, Tensor>) =>
            conv2d({ weight: p['weight']!, bias: p['bias']! }, p['x'] as tf.Tensor4D, { stride, pad, fused });
          const y = f(params);
          const dy = tf.tensor(new Rng(3).normalArray(y.size), y.shape);
          const { value, grads } = valueAndGrads(
            (p) => tf.sum(tf.mul(f(p as Record<string, Tensor>), dy)) as tf.Scalar,
            params,
          );
          return [y, value, grads['x'], grads['weight'], grads['bias']].map((t) =>
            (t as Tensor).dataSync().slice(),
          );
        }) as unknown as Float32Array[];
      const ref = run(false);
      const got = run(true);
      ['y', 'loss', 'dx', 'dW', 'db'].forEach((what, i) => {
        const e = relativeError(got[i]!, ref[i]!);
        assert.ok(e < 1e-5, `${what} of ${k}x${k} conv on [${xs}] -> ${co}: relative error ${e}`);
      });
      tf.dispose(Object.values(params));
    }
  });

  test('conv + bias backprop runs only the passes it needs', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const rng = new Rng(5);
    const x = tf.tensor4d(rng.normalArray(2 * 8 * 8 * 4), [2, 8, 8, 4]);
    const p = { weight: tf.tensor4d(rng.normalArray(9 * 4 * 6, 0.2), [3, 3, 4, 6]), bias: tf.zeros([6]) };
    const prof = profileKernels('native');
    const calls = (wrt: (path: string) => boolean, xVar: boolean) => {
      prof.stats.clear();
      tf.tidy(() => {
        const f = (q: ParamTree) => tf.sum(conv2d(q, q['x'] as tf.Tensor4D, { fused: true })) as tf.Scalar;
        return Object.values(valueAndGrads(f, { ...p, x }, (k) => wrt(k) || (xVar && k === 'x')).grads);
      });
      return ['Conv2DBackpropInput', 'Conv2DBackpropFilter', 'Sum'].map((k) => prof.stats.get(k)?.calls ?? 0);
    };
    try {
      // [input gradient, filter gradient, bias sum (+1: the loss's own sum)]
      assert.deepEqual(
        calls((k) => k !== 'x', false),
        [0, 1, 2],
        'data input: no input gradient',
      );
      assert.deepEqual(
        calls(() => false, true),
        [1, 0, 1],
        'fixed weights: no filter or bias gradient',
      );
    } finally {
      prof.stop();
      tf.dispose([x, ...Object.values(p)]);
    }
  });

  test('Winograd F(2x2, 3x3) and F(4x4, 3x3): forward, backward-data, filter gradient, bias match cpu', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    // Every 3x3 stride-1 convolution through Winograd, whatever its size, so small shapes reach
    // the edge cases: odd sizes (the last tile row / column partly outside), paddings 0-2 on each
    // side (backward-data pads by 2 - p), channel counts off the 8-lane vectors, one image or several.
    const shapes: [string, number[], number, 'same' | 'valid' | number[][]][] = [
      ['odd sizes, same', [2, 9, 7, 5], 6, 'same'],
      ['valid', [1, 8, 8, 3], 4, 'valid'],
      [
        'explicit padding 0/2 rows, 1/2 columns',
        [3, 10, 11, 9],
        17,
        [
          [0, 0],
          [0, 2],
          [1, 2],
          [0, 0],
        ],
      ],
      ['vector lanes and tail', [2, 16, 16, 20], 12, 'same'],
      ['one row of tiles', [1, 2, 13, 8], 8, 'same'],
    ];
    const cases: KernelCase[] = shapes.map(([name, xs, co, pad]) => ({
      name,
      inputs: [xs, [3, 3, xs[3]!, co]],
      fn: (x, f) => tf.conv2d(t4(x), t4(f), 1, pad as 'same'),
    }));
    // conv + bias in one kernel: the bias added by the output transform (the cpu side runs the
    // unfused composition)
    cases.push({
      name: 'conv + bias',
      inputs: [[2, 9, 10, 11], [3, 3, 11, 7], [7]],
      fn: (x, f, b) => conv2d({ weight: f!, bias: b! }, t4(x), { pad: 'same' }),
    });
    const prev = nativeWinograd({ minChannels: 1 });
    try {
      // F(4x4, 3x3) rounds more: its transforms hold 1/6, 1/24, 4 and 8 (~1e-5 relative here)
      for (const [tile, tol] of [
        [2, 1e-5],
        [4, 1e-4],
      ] as const) {
        nativeWinograd({ tile });
        const before = nativeWinograd().calls;
        await expectMatch(
          cases.map((c) => ({ ...c, name: `F(${tile}x${tile}) ${c.name}` })),
          tol,
        );
        const calls = nativeWinograd().calls - before;
        // per case: the forward of the value, and forward + backward-data + filter gradient of
        // the gradient check
        assert.ok(calls >= 3 * cases.length, `only ${calls} convolution passes ran as Winograd`);
      }
    } finally {
      nativeWinograd({ minChannels: prev.minChannels, tile: 0 });
    }
  });

  test('the kernel profile counts what each kernel returns and the peak of live tensors', () => {
    const x = tf.ones([2, 8, 8, 4]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 4, 6]) as tf.Tensor4D;
    const prof = profileKernels('native');
    try {
      const y = tf.conv2d(x, w, 1, 'same');
      const s = prof.stats.get('Conv2D')!;
      assert.equal(s.calls, 1);
      assert.equal(s.bytes, 2 * 8 * 8 * 6 * 4);
      // x, w and y were live after the convolution
      assert.ok(prof.peak.bytes >= (2 * 8 * 8 * 4 + 3 * 3 * 4 * 6 + 2 * 8 * 8 * 6) * 4);
      assert.equal(prof.peak.kernel, 'Conv2D');
      assert.match(prof.table(1), /MB out/);
      y.dispose();
    } finally {
      prof.stop();
      tf.dispose([x, w]);
    }
  });

  test('attention for inference: the fused kernel against the composition, in blocks of 256 rows', async () => {
    // N = 600 query rows: two full blocks and a part; ck 4 and cv 12 as SAGAN's c/8 and c/2 at c = 32
    // (scaled so that the softmax is far from uniform)
    const rng = new Rng(41);
    const p = initAttention(rng, 32, 0.7);
    const prev = hasFused(ATTENTION_KERNEL);
    assert.ok(prev, 'the native backend registers the attention kernel');
    await expectMatch(
      [
        {
          name: 'attention 20x30x32 (N = 600)',
          inputs: [[2, 20, 30, 32]],
          fn: (x) => attention(p, tf.mul(t4(x), 3) as tf.Tensor4D, undefined, true),
          grads: false,
        },
      ],
      1e-5,
    );
    // and without `inference` the composition runs: its gradient exists
    const x = tf.randomNormal([1, 4, 4, 32]) as tf.Tensor4D;
    const g = tf.grad((xi: Tensor) => tf.sum(attention(p, xi as tf.Tensor4D)))(x);
    assert.deepEqual(g.shape, [1, 4, 4, 32]);
    tf.dispose([
      x,
      g,
      ...Object.values(p).flatMap((v) =>
        v instanceof tf.Tensor ? [v] : (Object.values(v as ParamTree) as Tensor[]),
      ),
    ]);
  });

  test('multi-build kernels: the AVX-512, AVX2 and baseline Winograd transforms give the same bits, softmax within 1e-6', async (t) => {
    // The builds differ only in vector width; every lane does the same float operations in the same
    // order (no FMA), so the baseline build is the oracle of the wider ones, bit for bit.
    const { cpu } = nativeIsa();
    const isas = NATIVE_ISAS.slice(0, NATIVE_ISAS.indexOf(cpu) + 1);
    if (isas.length === 1) t.diagnostic(`this CPU runs only the ${cpu} build: nothing to compare`);
    const rng = new Rng(31);
    // channels 16 + 8 + 5 (AVX-512 vectors, an AVX2 vector, the scalar tail), 40 = 2 x 16 + 8
    const shapes: [number[], number][] = [
      [[2, 12, 12, 29], 40],
      [[1, 9, 10, 40], 29],
    ];
    const prev = nativeWinograd({ minChannels: 1 });
    try {
      for (const tile of [2, 4] as const) {
        nativeWinograd({ tile });
        for (const [xs, co] of shapes) {
          const x = tf.tensor4d(
            rng.normalArray(xs.reduce((a, b) => a * b)),
            xs as [number, number, number, number],
          );
          const f = tf.tensor4d(rng.normalArray(9 * xs[3]! * co), [3, 3, xs[3]!, co]);
          const b = tf.tensor1d(rng.normalArray(co));
          const run = () =>
            tf.tidy(() => {
              const y = conv2d({ weight: f, bias: b }, x, { pad: 'same' });
              const [dx, df] = tf.grads((a: Tensor, w: Tensor) =>
                tf.sum(tf.mul(tf.square(tf.conv2d(t4(a), t4(w), 1, 'same')), 0.5)),
              )([x, f]);
              return [y, dx!, df!].map((r) => r.dataSync().slice());
            });
          const before = nativeWinograd().calls;
          const out = isas.map((isa) => {
            assert.equal(nativeIsa(isa).active, isa);
            return run();
          });
          assert.ok(
            nativeWinograd().calls - before >= 4 * isas.length,
            'the convolutions did not run as Winograd',
          );
          for (let i = 1; i < isas.length; i++)
            ['forward', 'backward-data', 'filter gradient'].forEach((pass, k) =>
              assert.deepEqual(
                out[i]![k],
                out[0]![k],
                `F(${tile}x${tile}) ${xs} -> ${co}: ${isas[i]} ${pass}`,
              ),
            );
          tf.dispose([x, f, b]);
        }
      }
    } finally {
      nativeWinograd({ minChannels: prev.minChannels, tile: 0 });
      nativeIsa(cpu);
    }
    // the softmax builds (native/softmax_rows.inc): vector sums round by width, so close, not equal
    const logits = tf.mul(tf.randomNormal([5, 1037], 0, 1, 'float32', 8), 4);
    const rows = isas.map((isa) => {
      nativeIsa(isa);
      return tf.tidy(() => tf.softmax(logits).dataSync().slice());
    });
    nativeIsa(cpu);
    logits.dispose();
    for (let i = 1; i < isas.length; i++)
      assert.ok(relativeError(rows[i]!, rows[0]!) < 1e-6, `softmax ${isas[i]} vs baseline`);
    assert.throws(() => loadAddon()!.isa('sse9'), /not one of baseline, avx2, avx512/);
  });

  test('fused spectral norm gradient agrees with numerical differences', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const rng = new Rng(12);
    const w0 = rng.normalArray(3 * 3 * 2 * 3);
    const shape = [3, 3, 2, 3];
    const u = { weight: tf.tensor1d([0.6, -0.48, 0.64]) };
    const v = { weight: tf.tensor1d(rng.normalArray(18)) };
    const probe = tf.tensor(rng.normalArray(18 * 3), shape);
    const loss = (w: number[] | Float32Array) =>
      tf.tidy(() => {
        const y = spectralNorm({ weight: tf.tensor(w, shape) }, u, v, true)['weight'] as Tensor;
        return tf.sum(tf.mul(tf.square(y), probe)).dataSync()[0]!;
      });
    const g = tf.tidy(() => {
      const { grads } = valueAndGrads(
        (p) => tf.sum(tf.mul(tf.square(spectralNorm(p, u, v, true)['weight'] as Tensor), probe)) as tf.Scalar,
        { weight: tf.tensor(w0, shape) },
      );
      return (grads['weight'] as Tensor).dataSync().slice();
    }) as unknown as Float32Array;
    const h = 1e-2;
    for (const i of [0, 5, 17, 30, 53]) {
      const plus = Float32Array.from(w0);
      const minus = Float32Array.from(w0);
      plus[i]! += h;
      minus[i]! -= h;
      const numeric = (loss(plus) - loss(minus)) / (2 * h);
      assert.ok(
        Math.abs(numeric - g[i]!) < 2e-2 * Math.max(1, Math.abs(numeric)),
        `dW[${i}]: ${g[i]} vs ${numeric}`,
      );
    }
    tf.dispose([u.weight, v.weight, probe]);
  });

  test('buffer pool: disposed outputs are reused; values read or shared are never overwritten', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const x = tf.tensor2d(new Rng(21).normalArray(64 * 1000), [64, 1000]);
    // a kernel output, disposed: the next output of its size reuses the buffer
    const before = nativePoolStats().reused;
    tf.dispose(tf.relu(x));
    const y = tf.relu(x);
    assert.ok(nativePoolStats().reused > before, 'a disposed output buffer was reused');
    // read values stay valid: dataSync() hands out the tensor's own storage
    const read = y.dataSync();
    const copy = read.slice();
    y.dispose();
    // a view over an output (reshape shares the data; a contiguous slice may be a subarray)
    const zv = tf.tidy(() => tf.exp(x).dataSync().slice()); // expected values, from a twin
    const z = tf.exp(x);
    const r = tf.reshape(z, [1000, 64]);
    const z2 = tf.exp(x);
    const s = tf.slice(z2, [0, 0], [32, 1000]);
    tf.dispose([z, z2]);
    for (let i = 0; i < 5; i++) tf.dispose([tf.relu(x), tf.exp(x), tf.sin(x), tf.neg(x)]);
    assert.deepEqual(read, copy, 'values read by dataSync() were overwritten after dispose');
    assert.deepEqual(r.dataSync(), zv, 'a reshape of a disposed tensor was overwritten');
    assert.deepEqual(s.dataSync(), zv.subarray(0, 32 * 1000), 'a slice of a disposed tensor was overwritten');
    tf.dispose([x, r, s]);
  });

  test('whole network: probe-net gradients for every parameter match cpu', async () => {
    const grads: Record<string, Map<string, Float32Array>> = {};
    for (const backend of ['cpu', 'native']) {
      await initEngine({ backend, threads: 2 });
      const params = initProbeNet({ channels: 4, resolution: 16 }, new Rng(7));
      const x = tf.tensor4d(blobImages(new Rng(3), 2, 16), [2, 16, 16, 3]);
      const { value, grads: g } = valueAndGrads((p) => probeLoss(p, x), params);
      const flat = flatten(g);
      grads[backend] = new Map([...flat].map(([k, t]) => [k, t.dataSync() as Float32Array]));
      tf.dispose([value, x, ...flat.values(), ...flatten(params).values()]);
    }
    const scale = Math.max(...[...grads['cpu']!.values()].map((v) => Math.max(...v.map(Math.abs))));
    for (const [k, v] of grads['cpu']!) {
      const n = grads['native']!.get(k)!;
      let worst = 0;
      for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(n[i]! - v[i]!));
      assert.ok(worst < 1e-4 * scale, `${k}: max abs diff ${worst} (gradient scale ${scale})`);
    }
  });

  test('deterministic with 2 threads: identical gradients on repeated runs', async () => {
    await initEngine({ backend: 'native', threads: 2 });
    const once = () =>
      tf.tidy(() => {
        const params = initProbeNet({ channels: 8, resolution: 32 }, new Rng(2));
        const x = tf.tensor4d(blobImages(new Rng(4), 4, 32), [4, 32, 32, 3]);
        return [...flatten(valueAndGrads((p) => probeLoss(p, x), params).grads).values()].map((t) =>
          t.dataSync().slice(),
        );
      }) as unknown as Float32Array[];
    const a = once();
    const b = once();
    a.forEach((g, i) => assert.deepEqual(g, b[i]));
  });
});
