/**
 * Writes a synthetic talking-head dataset: identities x sequences x frames, rendered in parallel
 * worker threads (one per core) and written in a fixed order, so the bytes depend only on the
 * options, not on scheduling.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DatasetWriter, type VideoEntry } from '../dataset.js';
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

function startWorker(): Worker {
  // Compiled: worker.js next to this file. Under tsx (tests): worker.ts, with tsx's loader.
  if (import.meta.url.endsWith('.ts')) {
    const url = new URL('./worker.ts', import.meta.url).href;
    return new Worker(
      `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); })`,
      { eval: true },
    );
  }
  return new Worker(new URL('./worker.js', import.meta.url));
}

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
  const results = new Map<number, VideoResult>();
  let next = 0; // next job index to hand out
  let written = 0; // jobs written, in order
  const flush = () => {
    while (results.has(written)) {
      const r = results.get(written)!;
      results.delete(written);
      writer.addVideo(
        videoId(r.job.identity, r.job.sequence),
        `synth${String(r.job.identity).padStart(5, '0')}`,
        r.frames,
        r.landmarks,
      );
      written++;
      onVideo?.(written, total);
    }
  };
  const nWorkers = Math.max(1, Math.min(o.workers ?? availableParallelism(), total));
  if (nWorkers <= 1 || total <= 1) {
    for (const job of jobs) {
      results.set(next++, renderVideo(job));
      flush();
    }
    return writer.videos;
  }
  await new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    let failed = false;
    const give = (w: Worker) => {
      if (next >= total) {
        void w.terminate();
        return;
      }
      const idx = next++;
      (w as Worker & { job?: number }).job = idx;
      w.postMessage(jobs[idx]);
    };
    let finished = 0;
    for (let k = 0; k < nWorkers; k++) {
      const w = startWorker();
      workers.push(w);
      w.on('message', (r: VideoResult) => {
        results.set((w as Worker & { job?: number }).job!, r);
        try {
          flush();
        } catch (e) {
          failed = true;
          workers.forEach((x) => void x.terminate());
          reject(e as Error);
          return;
        }
        give(w);
      });
      w.on('error', (e) => {
        if (failed) return;
        failed = true;
        workers.forEach((x) => void x.terminate());
        reject(e);
      });
      w.on('exit', () => {
        if (++finished === nWorkers && !failed) resolve();
      });
      give(w);
    }
  });
  if (written !== total) throw new Error(`synth: wrote ${written} of ${total} videos`);
  return writer.videos;
}
