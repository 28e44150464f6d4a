/**
 * Worker thread for `WorkerFaceDetector`: face-api's networks on the backend the engine picks in
 * this thread (one kernel thread: the caller's thread is the other half of the parallelism).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../engine/backend.js';
import { FaceDetector, type FaceWorkerRequest } from './detect.js';

const ready = (async () => {
  await initEngine({ backend: (workerData as { backend?: string }).backend, threads: 1 });
  return FaceDetector.load();
})();

parentPort?.on('message', (job: FaceWorkerRequest & { id: number }) => {
  void (async () => {
    try {
      const det = await ready;
      const result =
        job.op === 'locate'
          ? await det.locate(job.canvas, job.minConfidence)
          : await det.landmarks(job.crops);
      parentPort!.postMessage({ id: job.id, result });
    } catch (e) {
      parentPort!.postMessage({ id: job.id, error: (e as Error).message });
    }
  })();
});
