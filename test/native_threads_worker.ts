// Worker for native_threads.test.ts: convolutions on the native backend from a worker thread.
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';

/** Sums of conv outputs and gradients over `reps` rounds of two Winograd-sized convolutions. */
export function convChecksums(seed: number, reps: number): number[] {
  const rng = new Rng(seed);
  const shapes: [number[], number][] = [
    [[2, 16, 16, 64], 64],
    [[2, 32, 32, 32], 48],
  ];
  const sums: number[] = [];
  for (let r = 0; r < reps; r++)
    for (const [xs, co] of shapes) {
      const ci = xs[3]!;
      tf.tidy(() => {
        const x = tf.tensor4d(
          rng.normalArray(xs.reduce((a, b) => a * b)),
          xs as [number, number, number, number],
        );
        const w = tf.tensor4d(rng.normalArray(9 * ci * co, 0.1), [3, 3, ci, co]);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))),
        )([x, w]);
        sums.push(tf.sum(dx!).dataSync()[0]!, tf.sum(dw!).dataSync()[0]!);
      });
    }
  return sums;
}

if (parentPort) {
  const port = parentPort;
  await initEngine({ backend: 'native', threads: 1 });
  port.on('message', (job: { seed: number; reps: number }) =>
    port.postMessage(convChecksums(job.seed, job.reps)),
  );
}
