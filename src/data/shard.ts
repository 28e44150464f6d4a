/**
 * Shards of a preprocessing job (issue 14, part 1): shard I of N takes the inputs whose id (the path
 * relative to the input folder) hashes to I mod N, so the split does not depend on the order files
 * are listed in, and an input keeps its shard when others are added or removed. The shard comes
 * from `--shard I/N` or, when not given, from the environment a scheduler sets.
 */

/** 0-based `index` of `count` shards. */
export interface Shard {
  index: number;
  count: number;
}

export class ShardError extends Error {
  override name = 'ShardError';
}

/** "I/N", I counted from 0 as MPI ranks and job-array indices are (0/3, 1/3, 2/3). */
export function parseShard(s: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count)
    throw new ShardError(`--shard must be I/N with 0 <= I < N (e.g. 0/4 ... 3/4), got "${s}"`);
  return { index, count };
}

/**
 * The shard a scheduler gave this process, or null: an MPI rank (Open MPI, MPICH / PMI), a Slurm
 * job-array task (index from SLURM_ARRAY_TASK_MIN) or a Kubernetes indexed job
 * (JOB_COMPLETION_INDEX, with the count in TALKING_HEADS_SHARDS, which Kubernetes does not set).
 */
export function shardFromEnv(env: Record<string, string | undefined> = process.env): Shard | null {
  const pair = (i: string | undefined, n: string | undefined, from = 0): Shard | null =>
    i !== undefined && n !== undefined && i !== '' && n !== ''
      ? parseShard(`${Number(i) - from}/${n}`)
      : null;
  return (
    pair(env['OMPI_COMM_WORLD_RANK'], env['OMPI_COMM_WORLD_SIZE']) ??
    pair(env['PMI_RANK'], env['PMI_SIZE']) ??
    pair(
      env['SLURM_ARRAY_TASK_ID'],
      env['SLURM_ARRAY_TASK_COUNT'],
      Number(env['SLURM_ARRAY_TASK_MIN'] ?? 0),
    ) ??
    pair(env['JOB_COMPLETION_INDEX'], env['TALKING_HEADS_SHARDS'])
  );
}

/** FNV-1a, 32 bits, of the id's UTF-8 bytes: stable across machines and Node versions. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function inShard(id: string, s: Shard): boolean {
  return fnv1a(id) % s.count === s.index;
}
