/**
 * Data-parallel meta-learning (issue 14; Horovod's recipe over MPI): every rank holds a full replica,
 * computes the gradients of its share of the step's episodes, and the ranks average them before the
 * optimizer step, so every replica takes the same step and stays identical.
 *
 * - The step's episodes are drawn as one global batch from the shared episode stream and rank r takes
 *   episodes [floor(rG/N), floor((r+1)G/N)). A rank samples only what it loads, and the run's
 *   trajectory does not depend on N: 2 ranks with batch 1 take the steps of 1 process with batch 2,
 *   and a run resumes on any number of ranks.
 * - Every loss is a mean over the batch, so the global gradient is sum_r (B_r / G) g_r: each rank
 *   scales its own gradients by its share before one all-reduce (sum) of all dense gradients.
 * - D's per-video columns of W are exchanged sparsely: each rank sends only the columns of its
 *   episodes' videos (an all-gather of [column index, values] slots), so traffic does not grow with
 *   the number of training videos.
 * - Sums are made in rank order on every rank; replicas are compared at every checkpoint by a hash of
 *   their weights and rank 0's are broadcast if floating point ever made them differ.
 */
import type { Communicator } from '../engine/mpi.js';
import { tf, type Tensor } from '../engine/tf.js';
import { flatten, unflatten, type ParamTree } from '../nn/params.js';

/** Rank `rank`'s episodes of a global batch of `global`: [start, end). */
export function batchShare(global: number, rank: number, size: number): { start: number; end: number } {
  if (size > global)
    throw new RangeError(`${size} ranks need a global batch of at least ${size} episodes (it is ${global})`);
  return { start: Math.floor((rank * global) / size), end: Math.floor(((rank + 1) * global) / size) };
}

/** Averages a step's gradients over the ranks (AdversarialTrainer calls it before each Adam update). */
export interface GradientReducer<B> {
  /** Consumes `grads` and returns the averaged ones. */
  reduce(grads: ParamTree, b: B, phase: string): Promise<ParamTree>;
}

/** A [rows, columns] leaf of which a batch touches only some columns (D's W: one column per video). */
export interface SparseLeaf<B> {
  path: string;
  columns(b: B): number[];
}

export interface CommStats {
  /** seconds spent in collectives (waiting for the other ranks included) */
  commSeconds: number;
  /** bytes this rank put into collectives */
  commBytes: number;
}

/** Rank 0's `value` on every rank (a decision: go on, stop). */
export async function fromRoot(comm: Communicator, value: number, what: string): Promise<number> {
  const buf = new Float64Array([value]);
  await comm.bcast(buf, 0, what);
  return buf[0]!;
}

/** Rank 0's JSON-serialisable value on every rank (others pass undefined). */
export async function shareJson<T>(comm: Communicator, value: T | undefined, what: string): Promise<T> {
  const bytes = comm.rank === 0 ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const n = await fromRoot(comm, bytes.length, what);
  const buf = comm.rank === 0 ? bytes : new Uint8Array(n);
  await comm.bcast(buf, 0, what);
  return JSON.parse(new TextDecoder().decode(buf)) as T;
}

const sortedLeaves = (t: ParamTree) => [...flatten(t)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export class DataParallel {
  readonly start: number;
  readonly end: number;
  /** this rank's share of the global batch: its gradients' weight in the average */
  readonly weight: number;
  private stats: CommStats = { commSeconds: 0, commBytes: 0 };

  constructor(
    readonly comm: Communicator,
    readonly globalBatch: number,
  ) {
    ({ start: this.start, end: this.end } = batchShare(globalBatch, comm.rank, comm.size));
    this.weight = (this.end - this.start) / globalBatch;
  }

  get rank(): number {
    return this.comm.rank;
  }
  get size(): number {
    return this.comm.size;
  }
  /** The most episodes any rank takes (the sparse exchange's slot count). */
  get maxShare(): number {
    return Math.ceil(this.globalBatch / this.comm.size);
  }

  private async timed(bytes: number, f: () => Promise<void>): Promise<void> {
    const t = performance.now();
    await f();
    this.stats.commSeconds += (performance.now() - t) / 1000;
    this.stats.commBytes += bytes;
  }

  /** Communication since the last call. */
  takeStats(): CommStats {
    const s = this.stats;
    this.stats = { commSeconds: 0, commBytes: 0 };
    return s;
  }

  /** The weighted sum over ranks of `grads` (disposed); `sparse` names a leaf exchanged by columns. */
  async reduceGrads(
    grads: ParamTree,
    what: string,
    sparse?: { path: string; columns: number[] },
  ): Promise<ParamTree> {
    const leaves = sortedLeaves(grads);
    const dense = leaves.filter(([p]) => p !== sparse?.path);
    const w = this.weight;
    const total = dense.reduce((n, [, t]) => n + t.size, 0);
    const buf = new Float32Array(total);
    let o = 0;
    for (const [, t] of dense) {
      const d = t.dataSync() as Float32Array;
      if (w === 1) buf.set(d, o);
      else for (let i = 0; i < d.length; i++) buf[o + i] = d[i]! * w;
      o += d.length;
    }
    await this.timed(buf.byteLength, () => this.comm.allreduceSum(buf, what));
    const out = new Map<string, Tensor>();
    o = 0;
    for (const [p, t] of dense) {
      out.set(p, tf.tensor(buf.slice(o, o + t.size), t.shape, 'float32'));
      o += t.size;
    }
    const sp = sparse && leaves.find(([p]) => p === sparse.path)?.[1];
    if (sparse && sp) out.set(sparse.path, await this.reduceColumns(sp, sparse.columns, what));
    tf.dispose(leaves.map(([, t]) => t));
    return unflatten(out);
  }

  /** All-gathers [index, column] slots of the columns this rank touched; sums them in rank order. */
  private async reduceColumns(g: Tensor, columns: number[], what: string): Promise<Tensor> {
    if (g.rank !== 2)
      throw new RangeError(`sparse gradient "${what}": expected [rows, columns], got [${g.shape}]`);
    const [rows, cols] = g.shape as [number, number];
    if (cols >= 2 ** 24) throw new RangeError(`sparse gradient: ${cols} columns do not fit a float32 index`);
    const mine = [...new Set(columns)];
    const slots = this.maxShare;
    if (mine.length > slots)
      throw new RangeError(`sparse gradient: ${mine.length} columns for ${slots} slots`);
    const slot = rows + 1;
    const send = new Float32Array(slots * slot).fill(-1);
    const d = g.dataSync() as Float32Array;
    mine.forEach((c, j) => {
      send[j * slot] = c;
      for (let r = 0; r < rows; r++) send[j * slot + 1 + r] = d[r * cols + c]! * this.weight;
    });
    const recv = new Float32Array(send.length * this.size);
    await this.timed(send.byteLength, () => this.comm.allgather(send, recv, `${what} (columns of W)`));
    const sum = new Float32Array(rows * cols);
    for (let s = 0; s < recv.length; s += slot) {
      const c = recv[s]!;
      if (c < 0) continue;
      for (let r = 0; r < rows; r++) sum[r * cols + c] = sum[r * cols + c]! + recv[s + 1 + r]!;
    }
    return tf.tensor(sum, [rows, cols], 'float32');
  }

  /** A GradientReducer for AdversarialTrainer; `sparse` says which leaf goes by columns. */
  reducer<B>(sparse?: SparseLeaf<B>): GradientReducer<B> {
    return {
      reduce: (grads, b, phase) =>
        this.reduceGrads(
          grads,
          `the ${phase} gradients`,
          sparse ? { path: sparse.path, columns: sparse.columns(b) } : undefined,
        ),
    };
  }

  /** The batch-weighted mean of every rank's metrics (what one process with the global batch logs). */
  async average(m: Record<string, number>): Promise<Record<string, number>> {
    const keys = Object.keys(m).sort();
    const buf = Float64Array.from(keys, (k) => m[k]! * this.weight);
    await this.timed(buf.byteLength, () => this.comm.allreduceSum(buf, 'the step metrics'));
    return Object.fromEntries(keys.map((k, i) => [k, buf[i]!]));
  }

  async fromRoot(value: number, what: string): Promise<number> {
    let out = value;
    await this.timed(8, async () => {
      out = await fromRoot(this.comm, value, what);
    });
    return out;
  }

  /**
   * Rank 0's values of `trees` on every rank: other ranks get new trees of the same layout (their
   * old ones are disposed); rank 0 gets its own back. A rank whose layout differs is an error that
   * names the first difference (a different dataset gives D a different number of columns).
   */
  async shareTrees(trees: ParamTree[], what: string): Promise<ParamTree[]> {
    const flat = trees.map(sortedLeaves);
    const layout = flat.map((ls) => ls.map(([p, t]) => `${p}:${t.shape.join('x')}`));
    const root = await shareJson(this.comm, this.rank === 0 ? layout : undefined, `${what} (layout)`);
    for (let i = 0; i < layout.length; i++) {
      const a = layout[i]!;
      const b = root[i] ?? [];
      const bad = a.findIndex((x, j) => x !== b[j]);
      if (bad >= 0 || a.length !== b.length)
        throw new Error(
          `rank ${this.rank}'s ${what} differ from rank 0's: ${a[bad] ?? '(missing)'} vs ${b[bad] ?? '(missing)'} (same data, preset and config on every rank?)`,
        );
    }
    const total = flat.reduce((n, ls) => n + ls.reduce((m, [, t]) => m + t.size, 0), 0);
    const buf = new Float32Array(total);
    let o = 0;
    if (this.rank === 0)
      for (const ls of flat)
        for (const [, t] of ls) {
          buf.set(t.dataSync() as Float32Array, o);
          o += t.size;
        }
    await this.timed(buf.byteLength, () => this.comm.bcast(buf, 0, what));
    if (this.rank === 0) return trees;
    o = 0;
    return flat.map((ls) => {
      const out = new Map<string, Tensor>();
      for (const [p, t] of ls) {
        out.set(p, tf.tensor(buf.slice(o, o + t.size), t.shape, 'float32'));
        o += t.size;
        t.dispose();
      }
      return unflatten(out);
    });
  }

  /** Whether the replicas' weights differ anywhere (a hash of every value's bits, compared across ranks). */
  async replicasDiffer(trees: ParamTree[]): Promise<boolean> {
    let h = 0x811c9dc5;
    for (const ls of trees.map(sortedLeaves))
      for (const [, t] of ls) {
        const d = t.dataSync() as Float32Array;
        const words = new Uint32Array(d.buffer, d.byteOffset, d.length);
        for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 16777619) >>> 0;
      }
    const all = new Float64Array(this.size);
    await this.timed(8, () => this.comm.allgather(new Float64Array([h]), all, 'the replica check'));
    return all.some((x) => x !== all[0]);
  }
}
