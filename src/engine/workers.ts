/**
 * Worker threads that run our TypeScript modules both compiled (dist/*.js) and under tsx in tests
 * (src/*.ts, where the worker must register tsx's loader itself).
 */
import { Worker, type TransferListItem } from 'node:worker_threads';

/** Starts `./name.(js|ts)` next to the module whose `import.meta.url` is `base`. */
export function startWorker(base: string, name: string, workerData?: unknown): Worker {
  if (base.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, base).href;
    return new Worker(
      `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url)}); })`,
      { eval: true, workerData },
    );
  }
  return new Worker(new URL(`./${name}.js`, base), { workerData });
}

/**
 * Runs `jobs` on `n` workers (each takes the next job when it posts a result) and hands results to
 * `onResult` in job order, so output does not depend on scheduling. Rejects on the first error.
 */
export function runOrdered<J, R>(
  start: () => Worker,
  n: number,
  jobs: J[],
  onResult: (r: R, index: number) => void,
  transfer: (j: J) => TransferListItem[] = () => [],
): Promise<void> {
  const results = new Map<number, R>();
  let next = 0;
  let written = 0;
  return new Promise<void>((resolve, reject) => {
    if (jobs.length === 0) return resolve();
    const workers: Worker[] = [];
    const assigned = new Map<Worker, number>();
    let failed = false;
    let exited = 0;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      workers.forEach((w) => void w.terminate());
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const give = (w: Worker) => {
      if (next >= jobs.length) {
        void w.terminate();
        return;
      }
      assigned.set(w, next);
      const j = jobs[next++]!;
      w.postMessage(j, transfer(j));
    };
    const count = Math.max(1, Math.min(n, jobs.length));
    for (let k = 0; k < count; k++) {
      const w = start();
      workers.push(w);
      w.on('message', (r: R & { error?: string }) => {
        if (r && typeof r === 'object' && 'error' in r && r.error) return fail(new Error(r.error));
        results.set(assigned.get(w)!, r);
        try {
          while (results.has(written)) {
            const x = results.get(written)!;
            results.delete(written);
            onResult(x, written++);
          }
        } catch (e) {
          return fail(e);
        }
        give(w);
      });
      w.on('error', fail);
      w.on('exit', () => {
        if (++exited === count && !failed) {
          if (written === jobs.length) resolve();
          else reject(new Error(`workers exited after ${written} of ${jobs.length} jobs`));
        }
      });
      give(w);
    }
  });
}
