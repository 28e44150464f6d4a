import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initEngine } from './backend.js';
import { compareWithCpu, HEALTH_CASES, REL_TOLERANCE, type KernelCase } from './kernel_check.js';
import { Rng } from './rng.js';
import { tf, type Tensor } from './tf.js';

before(async () => {
  await initEngine({ backend: 'wasm' });
});

async function expectMatch(cases: KernelCase[]): Promise<void> {
  const results = await compareWithCpu('wasm', cases);
  const bad = results.filter((r) => !(r.worst < REL_TOLERANCE));
  assert.deepEqual(
    bad.map((r) => `${r.name}: ${r.relErrors.map((e) => e.toExponential(1)).join(' ')}`),
    [],
    'cases whose wasm values or gradients differ from cpu',
  );
  assert.equal(results.length, cases.length);
}

describe('wasm training kernels match the cpu backend', () => {
  test('conv2d values and gradients: kernels 1/3/4/9, strides 1/2, same/valid, odd sizes', async () => {
    const cases: KernelCase[] = [];
    for (const k of [1, 3, 4, 9]) {
      for (const s of [1, 2]) {
        for (const pad of ['same', 'valid'] as const) {
          for (const h of [9, 16]) {
            const w = h + 1;
            if (pad === 'valid' && k > h) continue;
            cases.push({
              name: `k${k} s${s} ${pad} 2x${h}x${w}x3->5`,
              inputs: [
                [2, h, w, 3],
                [k, k, 3, 5],
              ],
              fn: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s, pad),
            });
          }
        }
      }
    }
    cases.push({
      name: 'explicit asymmetric padding',
      inputs: [
        [2, 10, 7, 4],
        [3, 3, 4, 6],
      ],
      fn: (x, f) =>
        tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, [
          [0, 0],
          [1, 2],
          [0, 1],
          [0, 0],
        ]),
    });
    cases.push({
      name: 'wide channels 3x3',
      inputs: [
        [2, 16, 16, 32],
        [3, 3, 32, 48],
      ],
      fn: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
    });
    cases.push({
      name: 'strided 4x4 odd input',
      inputs: [
        [3, 17, 13, 5],
        [4, 4, 5, 7],
      ],
      fn: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'),
    });
    assert.ok(cases.length >= 30);
    await expectMatch(cases);
  });

  test('batched matmul with transposes and broadcasting', async () => {
    const shapes: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[2, 4, 5, 7], [7, 3], false, false],
      [[4, 5, 7], [1, 7, 3], false, false],
      [[1, 5, 7], [4, 7, 3], false, false],
    ];
    await expectMatch(
      shapes.map(([a, b, ta, tb]) => ({
        name: `matMul [${a}]${ta ? 'T' : ''} x [${b}]${tb ? 'T' : ''}`,
        inputs: [a, b],
        // tfjs-core's BatchMatMul gradient cannot reduce broadcast batch dims; the forward is enough there.
        grads: a.length === b.length && a.slice(0, -2).join() === b.slice(0, -2).join(),
        fn: (x, y) => tf.matMul(x!, y!, ta, tb),
      })),
    );
  });

  test('matmul broadcasting over two batch dims matches a direct loop (cpu is wrong there)', async () => {
    const [a, b] = [
      [2, 1, 5, 7],
      [1, 3, 7, 4],
    ];
    const rng = new Rng(5);
    const av = rng.uniformArray(70, -1, 1);
    const bv = rng.uniformArray(84, -1, 1);
    const y = tf.tidy(() => tf.matMul(tf.tensor(av, a), tf.tensor(bv, b)));
    assert.deepEqual(y.shape, [2, 3, 5, 4]);
    const got = y.dataSync();
    y.dispose();
    let worst = 0;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let m = 0; m < 5; m++)
          for (let n = 0; n < 4; n++) {
            let s = 0;
            for (let k = 0; k < 7; k++) s += av[i * 35 + m * 7 + k]! * bv[j * 28 + k * 4 + n]!;
            worst = Math.max(worst, Math.abs(s - got[((i * 3 + j) * 5 + m) * 4 + n]!));
          }
    assert.ok(worst < 1e-5, `max abs error ${worst}`);
  });

  test('gather gradient (UnsortedSegmentSum) with repeated and unused rows', async () => {
    await expectMatch([
      {
        name: 'gather axis 0',
        inputs: [[10, 6]],
        ints: [{ shape: [5], values: [1, 3, 3, 9, 0] }],
        fn: (x, i) => tf.gather(x!, i!),
      },
      {
        name: 'gather axis 1',
        inputs: [[4, 10, 3]],
        ints: [{ shape: [4], values: [2, 2, 7, 0] }],
        fn: (x, i) => tf.gather(x!, i!, 1),
      },
    ]);
    // And the kernel on its own, with ids outside [0, S) dropped as in TensorFlow.
    const out = tf.tidy(() =>
      tf.unsortedSegmentSum(
        tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]),
        tf.tensor1d([2, 0, 2, 5], 'int32'),
        3,
      ),
    );
    assert.deepEqual(Array.from(out.dataSync()), [3, 4, 0, 0, 6, 8]);
    out.dispose();
  });

  test('slice of every rank, including empty and contiguous', async () => {
    await expectMatch([
      { name: 'rank1', inputs: [[9]], fn: (x) => tf.slice(x!, [2], [5]) },
      { name: 'rank2 rows (contiguous)', inputs: [[6, 5]], fn: (x) => tf.slice(x!, [1, 0], [3, 5]) },
      { name: 'rank3 inner', inputs: [[3, 5, 7]], fn: (x) => tf.slice(x!, [1, 1, 2], [2, 3, 4]) },
      {
        name: 'rank4 channels',
        inputs: [[2, 4, 4, 6]],
        fn: (x) => tf.slice(x!, [0, 0, 0, 2], [-1, -1, -1, 3]),
      },
      { name: 'rank4 spatial', inputs: [[2, 5, 6, 3]], fn: (x) => tf.slice(x!, [1, 2, 1, 0], [1, 2, 4, 3]) },
    ]);
    const empty = tf.tidy(() => tf.slice(tf.ones([3, 4]), [1, 0], [0, 4]));
    assert.deepEqual(empty.shape, [0, 4]);
    empty.dispose();
  });

  test('pooling, sums and resize gradients', async () => {
    const t4 = (x: Tensor | undefined) => x as tf.Tensor4D;
    await expectMatch([
      { name: 'avgPool 2x2/2 (tiled)', inputs: [[2, 8, 6, 3]], fn: (x) => tf.avgPool(t4(x), 2, 2, 'valid') },
      {
        name: 'avgPool 3x3/2 same (overlap)',
        inputs: [[2, 9, 7, 3]],
        fn: (x) => tf.avgPool(t4(x), 3, 2, 'same'),
      },
      {
        name: 'avgPool 2x2/2 odd (untiled)',
        inputs: [[1, 9, 7, 2]],
        fn: (x) => tf.avgPool(t4(x), 2, 2, 'valid'),
      },
      { name: 'sum leading (large)', inputs: [[4, 64, 64, 8]], fn: (x) => tf.sum(x!, [0, 1, 2]) },
      { name: 'sum leading keepDims', inputs: [[4, 64, 64, 8]], fn: (x) => tf.sum(x!, [0, 1, 2], true) },
      { name: 'sum spatial (moments)', inputs: [[2, 8, 8, 4]], fn: (x) => tf.sum(x!, [1, 2], true) },
      { name: 'mean all', inputs: [[3, 5, 7]], fn: (x) => tf.mean(x!) },
      {
        name: 'nearest x2 batch 3',
        inputs: [[3, 4, 5, 2]],
        fn: (x) => tf.image.resizeNearestNeighbor(t4(x), [8, 10]),
      },
      {
        name: 'nearest x2 half-pixel',
        inputs: [[2, 4, 5, 2]],
        fn: (x) => tf.image.resizeNearestNeighbor(t4(x), [8, 10], false, true),
      },
      {
        name: 'nearest x2 align corners',
        inputs: [[2, 4, 5, 2]],
        fn: (x) => tf.image.resizeNearestNeighbor(t4(x), [8, 10], true),
      },
      {
        name: 'nearest non-integer scale',
        inputs: [[2, 4, 5, 2]],
        fn: (x) => tf.image.resizeNearestNeighbor(t4(x), [7, 9]),
      },
      {
        name: 'bilinear x2 batch 2',
        inputs: [[2, 4, 5, 3]],
        fn: (x) => tf.image.resizeBilinear(t4(x), [8, 10]),
      },
      {
        name: 'bilinear x2 half-pixel',
        inputs: [[2, 4, 5, 3]],
        fn: (x) => tf.image.resizeBilinear(t4(x), [8, 10], false, true),
      },
    ]);
  });

  test('the doctor health cases pass', async () => {
    await expectMatch([...HEALTH_CASES]);
  });
});

describe('wasm conv gradients match numerical differences', () => {
  // sum(conv(x, w) * r) is linear in x and in w, so a central difference equals the derivative up
  // to float32 rounding, whatever the step.
  for (const [k, s, pad] of [
    [3, 1, 'same'],
    [4, 2, 'same'],
    [9, 1, 'same'],
    [3, 2, 'valid'],
    [1, 2, 'valid'],
  ] as const) {
    test(`k${k} s${s} ${pad}`, () => {
      const rng = new Rng(k * 10 + s);
      const xs = [2, 11, 10, 3];
      const ws = [k, k, 3, 4];
      const x = tf.tensor4d(rng.uniformArray(2 * 11 * 10 * 3, -1, 1), xs as [number, number, number, number]);
      const w = tf.tensor4d(rng.uniformArray(k * k * 12, -1, 1), ws as [number, number, number, number]);
      const y0 = tf.conv2d(x, w, s, pad);
      const r = tf.tensor(rng.uniformArray(y0.size, -1, 1), y0.shape);
      const loss = (a: Tensor, b: Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), r));
      const [gx, gw] = tf.grads(loss)([x, w]);
      const gxv = gx!.dataSync();
      const gwv = gw!.dataSync();
      const eps = 0.05;
      const probe = (t: tf.Tensor4D, which: 0 | 1, i: number): number => {
        const v = t.dataSync().slice();
        v[i]! += eps;
        const plus = tf.tensor4d(v, t.shape);
        v[i]! -= 2 * eps;
        const minus = tf.tensor4d(v, t.shape);
        const lp = (which === 0 ? loss(plus, w) : loss(x, plus)).dataSync()[0]!;
        const lm = (which === 0 ? loss(minus, w) : loss(x, minus)).dataSync()[0]!;
        tf.dispose([plus, minus]);
        return (lp - lm) / (2 * eps);
      };
      for (let j = 0; j < 6; j++) {
        const i = rng.int(x.size);
        assert.ok(
          Math.abs(probe(x, 0, i) - gxv[i]!) < 2e-3,
          `dx[${i}]: numeric ${probe(x, 0, i)} vs ${gxv[i]}`,
        );
        const q = rng.int(w.size);
        assert.ok(
          Math.abs(probe(w, 1, q) - gwv[q]!) < 2e-3,
          `dw[${q}]: numeric ${probe(w, 1, q)} vs ${gwv[q]}`,
        );
      }
      tf.dispose([x, w, y0, r, gx!, gw!]);
    });
  }
});
