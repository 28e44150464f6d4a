// engine/tape.ts against TF.js's own reverse pass: the same gradients bit for bit (the probe network,
// which uses every op the talking-head networks train with, on cpu and on the native backend), no
// tensor left behind, and a lower peak of live tensors on a deep chain (issue 25: training memory).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initEngine, nativeAvailable } from './backend.js';
import { profileKernels } from './profile.js';
import { Rng } from './rng.js';
import { gradients, gradientsOfMany, tapeKeeps } from './tape.js';
import { tf, type Tensor } from './tf.js';
import { initProbeNet } from '../models/probe_net.js';
import { flatten } from '../nn/params.js';
import { blobImages, probeLoss } from '../train/probe.js';

type Grad = (f: () => Tensor, xs: Tensor[]) => { value: Tensor; grads: (Tensor | null)[] };
const ours: Grad = (f, xs) => gradients(f, xs, true);
const theirs: Grad = (f, xs) => tf.engine().gradients(f, xs, undefined, true);

/** Values of the loss and of every gradient, as arrays (null where there is none). */
function run(grad: Grad, f: () => Tensor, xs: Tensor[]): { value: number; grads: (Float32Array | null)[] } {
  const r = grad(f, xs);
  const out = {
    value: r.value.dataSync()[0]!,
    grads: r.grads.map((g) => (g ? (g.dataSync() as Float32Array) : null)),
  };
  tf.dispose([r.value, ...r.grads.filter((g): g is Tensor => g !== null)]);
  return out;
}

function assertSame(grad: Grad, f: () => Tensor, xs: Tensor[], what: string): void {
  const before = tf.memory().numTensors;
  const a = run(grad, f, xs);
  assert.equal(tf.memory().numTensors, before, `${what}: tensors left behind`);
  const b = run(theirs, f, xs);
  assert.equal(a.value, b.value, what);
  assert.equal(a.grads.length, b.grads.length);
  a.grads.forEach((g, i) => {
    const h = b.grads[i]!;
    if (g === null || h === null) return assert.equal(g, h, `${what}: gradient ${i} present in one only`);
    assert.deepEqual(g, h, `${what}: gradient ${i} differs`);
  });
}

for (const backend of ['cpu', 'native'] as const) {
  const skip = backend === 'native' && !nativeAvailable() ? 'native addon not built' : false;
  describe(`tape walk that frees as it goes, ${backend} backend`, { skip }, () => {
    test('probe network: the same gradients as TF.js, bit for bit, nothing left behind', async () => {
      await initEngine({ backend, threads: 2 });
      const params = initProbeNet({ channels: 4, resolution: 16 }, new Rng(7));
      const x = tf.tensor4d(blobImages(new Rng(3), 2, 16), [2, 16, 16, 3]);
      const leaves = [...flatten(params).values()];
      assertSame(ours, () => probeLoss(params, x) as Tensor, leaves, 'probe');
      tf.dispose([x, ...leaves]);
    });

    test('a gradient function that hands back its dy for two inputs, and x used twice', async () => {
      await initEngine({ backend, threads: 2 });
      const x = tf.tensor1d([0.5, -1, 2]);
      const w = tf.tensor1d([1, 2, 3]);
      // d(a + b) = dy for both: the same tensor object goes to two entries of the gradient map
      const sum = tf.customGrad((a, b) => {
        return { value: tf.add(a as Tensor, b as Tensor), gradFunc: (dy) => [dy as Tensor, dy as Tensor] };
      });
      const f = () => {
        const a = tf.tanh(tf.mul(x, w));
        const b = tf.mul(x, x);
        return tf.sum(tf.mul(sum(a, b), sum(b, tf.exp(a))));
      };
      assertSame(ours, f, [x, w], 'customGrad');
      // w unused by this loss: a null gradient, as TF.js gives
      assertSame(ours, () => tf.sum(tf.square(x)), [x, w], 'unused input');
      tf.dispose([x, w]);
    });

    test('two objectives from one forward pass: what two separate passes give, bit for bit', async () => {
      await initEngine({ backend, threads: 2 });
      // A GAN step in small: g makes a fake from z, d scores real and fake with shared weights;
      // g's loss reads d's score of the fake and d's features of the real image, d's hinge loss both scores.
      const rng = new Rng(11);
      const vec = (n: number, s = 1) => tf.tensor1d(Float32Array.from({ length: n }, () => rng.normal() * s));
      const [g1, g2, d1, d2] = [vec(6), vec(6), vec(6), vec(6)];
      const [z, real] = [vec(6), vec(6)];
      const disc = (x: Tensor) => {
        const feat = tf.relu(tf.mul(x, d1));
        return { feat, score: tf.sum(tf.mul(tf.tanh(feat), d2)) };
      };
      const gen = () => tf.tanh(tf.add(tf.mul(z, g1), g2));
      const lossG = (r: { feat: Tensor }, f: { feat: Tensor; score: Tensor }) =>
        tf.add(tf.neg(f.score), tf.mean(tf.abs(tf.sub(r.feat, f.feat))));
      const lossD = (r: { score: Tensor }, f: { score: Tensor }) =>
        tf.add(tf.relu(tf.sub(1, r.score)), tf.relu(tf.add(1, f.score)));
      const before = tf.memory().numTensors;
      const both = gradientsOfMany(() => {
        const r = disc(real);
        const fake = gen();
        const f = disc(fake);
        return [lossD(r, f), lossG(r, f)];
      }, [
        { y: 0, xs: [d1, d2, g1] },
        { y: 1, xs: [g1, g2, d1] },
      ]);
      // Each objective is differentiated by parameters of both nets, nodes lie on both paths: the
      // second walk needs saved tensors the first one also used.
      const sepD = theirs(() => {
        const f = disc(gen());
        return lossD(disc(real), f) as Tensor;
      }, [d1, d2, g1]);
      const sepG = theirs(() => {
        return lossG(disc(real), disc(gen())) as Tensor;
      }, [g1, g2, d1]);
      const arr = (t: Tensor | null) => (t ? [...t.dataSync()] : null);
      assert.equal(both.values[0]!.dataSync()[0], sepD.value.dataSync()[0]);
      assert.equal(both.values[1]!.dataSync()[0], sepG.value.dataSync()[0]);
      both.grads[0]!.forEach((t, i) =>
        assert.deepEqual(arr(t), arr(sepD.grads[i]!), `D loss, gradient ${i}`),
      );
      both.grads[1]!.forEach((t, i) =>
        assert.deepEqual(arr(t), arr(sepG.grads[i]!), `G loss, gradient ${i}`),
      );
      assert.ok(both.grads.flat().every((t) => t !== null));
      const made = [
        ...both.values,
        ...both.grads.flat(),
        sepD.value,
        ...sepD.grads,
        sepG.value,
        ...sepG.grads,
      ];
      tf.dispose(made.filter((t): t is Tensor => t !== null));
      assert.equal(tf.memory().numTensors, before, 'tensors left behind');
      tf.dispose([g1, g2, d1, d2, z, real]);
    });

    test("ReLU's gradient, taken from its output (engine/tf.ts), is dy where x > 0 and 0 elsewhere", async () => {
      await initEngine({ backend, threads: 2 });
      const x = tf.tensor1d([-2, -0, 0, 1e-30, 3, -1e-30]);
      const w = tf.tensor1d([1, 2, 3, 4, 5, 6]);
      const r = gradients(() => tf.sum(tf.mul(tf.relu(x), w)), [x]);
      assert.deepEqual([...r.grads[0]!.dataSync()], [0, 0, 0, 4, 5, 0]);
      // and it keeps the output, not the input: relu(x) is live for the next layer anyway
      assert.equal(
        tapeKeeps(() => tf.sum(tf.relu(x)), [x]),
        6 * 4,
      );
      tf.dispose([x, w, r.value, r.grads[0]!]);
    });

    test('a deep chain: lower peak of live tensors than TF.js, same gradients', async () => {
      await initEngine({ backend, threads: 2 });
      const rng = new Rng(5);
      const n = 64;
      const ws = Array.from({ length: 12 }, () =>
        tf.tensor2d(
          Float32Array.from({ length: n * n }, () => rng.normal() / Math.sqrt(n)),
          [n, n],
        ),
      );
      const x = tf.tensor2d(
        Float32Array.from({ length: 256 * n }, () => rng.normal()),
        [256, n],
      );
      const f = () =>
        tf.mean(tf.square(ws.reduce<Tensor>((h, w) => tf.relu(tf.matMul(h as tf.Tensor2D, w)), x)));
      const peak = (grad: Grad) => {
        const prof = profileKernels(tf.getBackend());
        try {
          run(grad, f, ws);
          return prof.peak.bytes;
        } finally {
          prof.stop();
        }
      };
      const base = tf.memory().numBytes;
      const [mine, tfs] = [peak(ours) - base, peak(theirs) - base];
      // TF.js holds every activation and every gradient to the end: about twice the activations
      assert.ok(mine < 0.7 * tfs, `peak ${mine} bytes against TF.js's ${tfs}`);
      assertSame(ours, f, ws, 'chain');
      tf.dispose([x, ...ws]);
    });
  });
}
