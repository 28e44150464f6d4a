import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inShard, parseShard, shardFromEnv } from './shard.js';

test('shards: every id in exactly one shard, whatever the order; parse and environment', () => {
  const ids = Array.from({ length: 300 }, (_, i) => `speaker${i % 37}/clip${i}`);
  const shards = [0, 1, 2].map((index) => ids.filter((id) => inShard(id, { index, count: 3 })));
  assert.equal(
    shards.reduce((n, s) => n + s.length, 0),
    ids.length,
  );
  assert.equal(new Set(shards.flat()).size, ids.length);
  for (const s of shards) assert.ok(s.length > 60 && s.length < 140, `balanced: ${s.length} of 300`);
  const reversed = [...ids].reverse().filter((id) => inShard(id, { index: 1, count: 3 }));
  assert.deepEqual([...reversed].sort(), [...shards[1]!].sort());
  // FNV-1a of "a" is 0xe40c292c (published test vector): 3826002220 % 7 = 5
  assert.equal(inShard('a', { index: 5, count: 7 }), true);
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.throws(() => parseShard('4/4'), /0 <= I < N/);
  assert.throws(() => parseShard('x'), /I\/N/);
  assert.deepEqual(shardFromEnv({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2' }), {
    index: 1,
    count: 2,
  });
  assert.deepEqual(
    shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' }),
    { index: 2, count: 3 },
  );
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '0', TALKING_HEADS_SHARDS: '5' }), {
    index: 0,
    count: 5,
  });
  assert.equal(shardFromEnv({ JOB_COMPLETION_INDEX: '0' }), null);
  assert.equal(shardFromEnv({}), null);
});
