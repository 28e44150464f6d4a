/**
 * Writes a synthetic talking-head dataset: identities x sequences x frames, rendered in parallel
 * worker threads (one per core) and written in a fixed order, so the bytes depend only on the
 * options, not on scheduling.
 */
import { availableParallelism } from 'node:os';
import { runOrdered, startWorker } from '../engine/workers.js';
import { type VideoEntry } from '../data/dataset.js';
import { DatasetWriter } from '../data/dataset_writer.js';
import { renderVideo, type VideoJob, type VideoResult } from './worker.js';

export interface SynthOptions {
  out: string;
  identities: number;
  sequences: number;
  frames: number;
  size: number;
  seed: number;
  /** render every n-th frame of the 25 fps motion (1 = consecutive frames) */
  frameStep: number;
  /** first identity index (to make disjoint test sets: e.g. --first-identity 1000) */
  firstIdentity: number;
  workers?: number;
  /** keep what an interrupted run wrote and add the rest */
  resume?: boolean;
}

export const videoId = (identity: number, sequence: number) =>
  `synth${String(identity).padStart(5, '0')}/seq${String(sequence).padStart(3, '0')}`;

export async function writeSyntheticDataset(
  o: SynthOptions,
  onVideo?: (done: number, total: number) => void,
): Promise<readonly VideoEntry[]> {
  for (const [k, v] of Object.entries({
    identities: o.identities,
    sequences: o.sequences,
    frames: o.frames,
    frameStep: o.frameStep,
  })) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`synth: --${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(o.size) || o.size < 16)
    throw new RangeError(`synth: --size must be an integer >= 16, got ${o.size}`);
  const writer = new DatasetWriter(
    o.out,
    {
      resolution: o.size,
      source: 'synthetic',
      landmarkSource: 'ground-truth (projected from the 3-D head)',
      info: {
        generator: 'neural-talking-heads procedural heads v1',
        seed: o.seed,
        frameStep: o.frameStep,
        fps: 25 / o.frameStep,
      },
    },
    o.resume ?? false,
  );
  const jobs: VideoJob[] = [];
  for (let i = 0; i < o.identities; i++) {
    for (let s = 0; s < o.sequences; s++) {
      const identity = o.firstIdentity + i;
      if (!writer.has(videoId(identity, s))) {
        jobs.push({
          seed: o.seed,
          identity,
          sequence: s,
          frames: o.frames,
          size: o.size,
          frameStep: o.frameStep,
        });
      }
    }
  }
  const total = jobs.length;
  let done = 0;
  const write = (r: VideoResult) => {
    writer.addVideo(
      videoId(r.job.identity, r.job.sequence),
      `synth${String(r.job.identity).padStart(5, '0')}`,
      r.frames,
      r.landmarks,
    );
    done++;
    onVideo?.(done, total);
  };
  const nWorkers = Math.max(1, Math.min(o.workers ?? availableParallelism(), total));
  if (nWorkers <= 1) {
    for (const job of jobs) write(renderVideo(job));
    return writer.videos;
  }
  await runOrdered<VideoJob, VideoResult>(
    () => startWorker(import.meta.url, 'worker'),
    nWorkers,
    jobs,
    write,
  );
  if (done !== total) throw new Error(`synth: wrote ${done} of ${total} videos`);
  return writer.videos;
}
