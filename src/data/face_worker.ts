/**
 * Worker thread for `WorkerFaceDetector`: face-api on its own TF.js backend (wasm by default: its
 * depthwise convolutions and pooling run there as kernels, where the native backend falls back to
 * JavaScript and is ~3.5x slower), one image per message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../engine/backend.js';
import { FaceDetector } from './faces.js';

interface Job {
  id: number;
  rgb: Uint8Array;
  width: number;
  height: number;
  minConfidence: number;
}

const ready = (async () => {
  await initEngine({ backend: (workerData as { backend: string }).backend, threads: 1 });
  return FaceDetector.load();
})();

parentPort?.on('message', (job: Job) => {
  void (async () => {
    try {
      const faces = await (await ready).detect(job.rgb, job.width, job.height, job.minConfidence);
      parentPort!.postMessage({ id: job.id, faces });
    } catch (e) {
      parentPort!.postMessage({ id: job.id, error: (e as Error).message });
    }
  })();
});
