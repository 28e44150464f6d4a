/**
 * Communicators for data-parallel training (issue 14): the few collectives it needs, over MPI (the
 * optional addon native/mpi/, built when Open MPI's headers are installed) or within one process
 * (`localGroup`, the reference twin the tests use: N replicas in one process exchange through it).
 *
 * Collectives answer with Promises: the MPI addon runs them on a worker thread, so while a rank
 * waits for the others its event loop still runs. That is what lets a job end with a message instead
 * of hanging: a collective that gets no answer in `timeoutS` seconds aborts the whole job (a rank
 * hangs), and SIGTERM from the launcher (mpirun stops every rank when one dies) prints `onTerminate`'s
 * message before the process ends.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type CommBuffer = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** e.g. "Open MPI v4.1.4" or "in-process" */
  readonly library: string;
  /** Sums `buf` element-wise over the ranks, in place. `what` names the step for error messages. */
  allreduceSum(buf: Float32Array | Float64Array, what: string): Promise<void>;
  /** recv = [rank 0's send, rank 1's send, ...]; every rank sends as many elements. */
  allgather<T extends Float32Array | Float64Array | Int32Array>(
    send: T,
    recv: T,
    what: string,
  ): Promise<void>;
  /** Copies `root`'s buffer into everyone's (same length on every rank). */
  bcast(buf: CommBuffer, root: number, what: string): Promise<void>;
  /** Ends every rank of the job now, after printing `message`. */
  abort(message: string): never;
  /** What this rank says when the launcher stops it (SIGTERM): what was saved, how to resume. */
  onTerminate(message: () => string): void;
  finalize(): void;
}

interface MpiAddon {
  init(): { rank: number; size: number; threadLevel: number; processor: string; version: string };
  allreduceSum(buf: Float32Array | Float64Array): Promise<void>;
  allgather(send: CommBuffer, recv: CommBuffer): Promise<void>;
  bcast(buf: CommBuffer, root: number): Promise<void>;
  barrier(): Promise<void>;
  abort(code: number): void;
  finalize(): void;
}

const ADDON_PATH = fileURLToPath(new URL('../../native/mpi/build/Release/nth_mpi.node', import.meta.url));

/** What to do when the MPI addon is missing (the feature is optional). */
export const MPI_MISSING =
  'MPI support is not built. Install Open MPI (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin), ' +
  'then rebuild the addons with `npm run build:native`, and start the ranks with `mpirun -np N` (or srun).';

let addon: MpiAddon | null | undefined;
let loadError = '';

export function loadMpiAddon(): MpiAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!existsSync(ADDON_PATH)) loadError = 'not built';
  else {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH) as MpiAddon;
    } catch (e) {
      loadError = `failed to load: ${(e as Error).message}`;
    }
  }
  return addon;
}

/** Why the addon did not load ('' when it did). */
export function mpiLoadError(): string {
  loadMpiAddon();
  return loadError;
}

/**
 * The environment for starting `mpirun` from a program (the tests, the scaling benchmark): Open MPI
 * refuses root unless told (CI containers run as root), and cross-process memory access (CMA, its
 * shared-memory single copy) is often forbidden in containers.
 */
export function mpirunEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_btl_vader_single_copy_mechanism: 'none',
    ...extra,
  };
}

/** Ranks of this job on this machine (to share its cores between them). */
export function localRanks(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(
    env['OMPI_COMM_WORLD_LOCAL_SIZE'] ?? env['MPI_LOCALNRANKS'] ?? env['SLURM_NTASKS_PER_NODE'] ?? 1,
  );
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export interface MpiOptions {
  /** seconds a collective may wait for the other ranks before the job is aborted (default 300) */
  timeoutS?: number;
}

class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly library: string;
  private finalized = false;
  private terminateMessage: () => string = () => '';

  constructor(
    private readonly m: MpiAddon,
    private readonly opts: MpiOptions,
  ) {
    const info = m.init();
    this.rank = info.rank;
    this.size = info.size;
    this.library = info.version;
    process.once('SIGTERM', () => {
      const msg = this.terminateMessage();
      console.error(
        `\nrank ${this.rank}: stopped by the MPI launcher (another rank died, or the job was cancelled).` +
          (msg ? ` ${msg}` : ''),
      );
      process.exit(143);
    });
  }

  /** Runs a collective; aborts the job when the other ranks do not answer in time. */
  private async timed(what: string, p: Promise<void>): Promise<void> {
    const s = this.opts.timeoutS ?? 300;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no answer from the other ranks for ${s} s in ${what}: a rank hangs or died (raise --rank-timeout if a step is that slow)`,
            ),
          ),
        s * 1000,
      );
    });
    try {
      await Promise.race([p, late]);
    } catch (e) {
      this.abort(`rank ${this.rank}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  allreduceSum(buf: Float32Array | Float64Array, what: string): Promise<void> {
    return this.timed(what, this.m.allreduceSum(buf));
  }
  allgather<T extends Float32Array | Float64Array | Int32Array>(
    send: T,
    recv: T,
    what: string,
  ): Promise<void> {
    return this.timed(what, this.m.allgather(send, recv));
  }
  bcast(buf: CommBuffer, root: number, what: string): Promise<void> {
    return this.timed(what, this.m.bcast(buf, root));
  }
  abort(message: string): never {
    console.error(`\n${message}`);
    this.m.abort(1);
    process.exit(1); // not reached: MPI_Abort ends the process
  }
  onTerminate(message: () => string): void {
    this.terminateMessage = message;
  }
  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.m.finalize();
  }
}

/** The MPI communicator of this process (MPI_COMM_WORLD); throws with MPI_MISSING when not built. */
export function mpiCommunicator(opts: MpiOptions = {}): Communicator {
  const m = loadMpiAddon();
  if (!m) throw new Error(`--distributed mpi: ${MPI_MISSING} (addon ${loadError})`);
  return new MpiCommunicator(m, opts);
}

/**
 * N ranks in one process: `localGroup(n)[r]` is rank r's communicator. A collective resolves once
 * every rank has called it, so N replicas driven concurrently (Promise.all) exchange as MPI ranks
 * would. Reductions add in rank order, like MPI's for two ranks.
 */
export function localGroup(n: number): Communicator[] {
  type Pending = { bufs: CommBuffer[]; recv: CommBuffer[]; done: (() => void)[]; root: number };
  let cur: Pending | null = null;
  let kind = '';
  const join = (
    rank: number,
    k: string,
    buf: CommBuffer,
    recv: CommBuffer | null,
    root: number,
    finish: (p: Pending) => void,
  ): Promise<void> =>
    new Promise((resolve) => {
      if (!cur) {
        cur = { bufs: [], recv: [], done: [], root };
        kind = k;
      } else if (kind !== k)
        throw new Error(`localGroup: rank ${rank} called ${k} while others are in ${kind}`);
      cur.bufs[rank] = buf;
      if (recv) cur.recv[rank] = recv;
      cur.done.push(resolve);
      if (cur.done.length === n) {
        const p = cur;
        cur = null;
        finish(p);
        p.done.forEach((d) => d());
      }
    });
  return Array.from({ length: n }, (_, rank) => ({
    rank,
    size: n,
    library: 'in-process',
    allreduceSum: (buf, what) =>
      join(rank, `allreduce ${what}`, buf, null, 0, (p) => {
        const sum = new Float64Array(buf.length);
        for (const b of p.bufs) for (let i = 0; i < sum.length; i++) sum[i]! += b[i]!;
        // every rank gets the same rounding of the same sum
        for (const b of p.bufs) (b as Float32Array | Float64Array).set(sum);
      }),
    allgather: (send, recv, what) =>
      join(rank, `allgather ${what}`, send, recv, 0, (p) => {
        for (const r of p.recv)
          p.bufs.forEach((s, i) => (r as Float32Array).set(s as Float32Array, i * s.length));
      }),
    bcast: (buf, root, what) =>
      join(rank, `bcast ${what}`, buf, null, root, (p) => {
        for (const b of p.bufs) if (b !== p.bufs[p.root]) (b as Uint8Array).set(p.bufs[p.root] as Uint8Array);
      }),
    abort: (message) => {
      throw new Error(message);
    },
    onTerminate: () => {},
    finalize: () => {},
  }));
}
