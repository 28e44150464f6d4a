// The native (oneDNN addon) backend against the cpu reference: every kernel it runs natively, values
// and gradients, with broadcasting, odd shapes, strides, paddings and dilations, plus a whole-network
// gradient check. Runs where the addon is built (CI installs libdnnl-dev); elsewhere the project runs
// on wasm and these tests report why they were skipped.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initEngine, nativeAvailable } from './backend.js';
import { compareWithCpu, HEALTH_CASES, relativeError, type KernelCase } from './kernel_check.js';
import { nativeLoadError } from './native.js';
import { Rng } from './rng.js';
import { tf, type Tensor } from './tf.js';
import { flatten } from '../models/params.js';
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

  test('reductions over every axis pattern, softmax, transpose, pooling, resize', async () => {
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
    cases.push({
      name: 'moments (instance norm)',
      inputs: [[2, 8, 8, 4]],
      fn: (x) => tf.moments(x!, [1, 2], true).variance,
    });
    cases.push({ name: 'softmax', inputs: [[3, 5, 17]], fn: (x) => tf.softmax(x!) });
    cases.push({ name: 'transpose', inputs: [[2, 3, 4, 5]], fn: (x) => tf.transpose(x!, [3, 1, 0, 2]) });
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
