/**
 * Worker thread for writeSyntheticDataset: renders whole videos and sends back their frames and
 * landmarks as transferable buffers.
 */
import { parentPort } from 'node:worker_threads';
import { HeadRenderer } from './render.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';

export interface VideoJob {
  seed: number;
  identity: number;
  sequence: number;
  frames: number;
  size: number;
  frameStep: number;
}

export interface VideoResult {
  job: VideoJob;
  frames: Uint8Array;
  landmarks: Float32Array;
}

export function renderVideo(job: VideoJob): VideoResult {
  const r = new HeadRenderer(job.seed, job.identity);
  const fb = job.size * job.size * 3;
  const frames = new Uint8Array(job.frames * fb);
  const landmarks = new Float32Array(job.frames * LANDMARK_VALUES);
  for (let f = 0; f < job.frames; f++) {
    const out = r.render(job.sequence, f * job.frameStep, job.size);
    frames.set(out.image, f * fb);
    landmarks.set(out.landmarks, f * LANDMARK_VALUES);
  }
  return { job, frames, landmarks };
}

parentPort?.on('message', (job: VideoJob) => {
  const res = renderVideo(job);
  parentPort!.postMessage(res, [res.frames.buffer as ArrayBuffer, res.landmarks.buffer as ArrayBuffer]);
});
