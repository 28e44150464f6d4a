/** Worker thread for preprocess --workers N: one face detector per thread, one unit per message. */
import { parentPort } from 'node:worker_threads';
import { initEngine } from '../engine/backend.js';
import { FaceDetector } from '../faces/detect.js';
import { processUnit, type PreprocessOptions, type UnitResult } from './preprocess.js';
import { type Unit } from './inputs.js';

let detector: FaceDetector | null = null;

parentPort?.on('message', (job: { unit: Unit; options: PreprocessOptions; backend?: string }) => {
  void (async () => {
    try {
      if (!detector) {
        // one thread per worker: the workers themselves are the parallelism
        await initEngine({ backend: job.backend, threads: 1 });
        detector = await FaceDetector.load();
      }
      const frames: Uint8Array[] = [];
      const landmarks: Float32Array[] = [];
      const report = await processUnit(job.unit, job.options, detector, {
        addFrame: (rgb, lm) => {
          frames.push(rgb);
          landmarks.push(lm);
        },
      });
      const result: UnitResult = { report, frames, landmarks };
      parentPort!.postMessage(result, [
        ...frames.map((f) => f.buffer as ArrayBuffer),
        ...landmarks.map((l) => l.buffer as ArrayBuffer),
      ]);
    } catch (e) {
      parentPort!.postMessage({ error: (e as Error).message });
    }
  })();
});
