// The native addon called from several worker threads at once (preprocessing runs face detection in
// workers): its shared plan caches and scratch arenas must not mix one thread's convolution into
// another's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { nativeAvailable } from '../src/engine/backend.js';
import { startWorker } from '../src/engine/workers.js';

const skip = nativeAvailable() ? false : 'native addon not built';

function run(w: Worker, seed: number, reps: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.postMessage({ seed, reps });
  });
}

test('concurrent native convolutions in two workers give the results of one alone', { skip }, async () => {
  const workers = [
    startWorker(import.meta.url, 'native_threads_worker'),
    startWorker(import.meta.url, 'native_threads_worker'),
  ];
  try {
    const reps = 12;
    const alone = await run(workers[0]!, 7, reps);
    const [a, b] = await Promise.all(workers.map((w) => run(w, 7, reps)));
    assert.deepEqual(a, alone);
    assert.deepEqual(b, alone);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});
