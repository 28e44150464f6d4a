import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefetch } from './prefetch.js';

test('prefetch keeps order, reads at most n ahead, passes errors on', async () => {
  let produced = 0;
  let consumed = 0;
  let maxAhead = 0;
  async function* source() {
    for (let i = 0; i < 20; i++) {
      produced++;
      maxAhead = Math.max(maxAhead, produced - consumed);
      await new Promise((r) => setTimeout(r, 1));
      yield i;
    }
  }
  const got: number[] = [];
  for await (const x of prefetch(source(), 3)) {
    consumed++;
    got.push(x);
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.deepEqual(
    got,
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.ok(maxAhead <= 4, `read ahead ${maxAhead}`);
  async function* failing() {
    yield 1;
    throw new Error('broken frame');
  }
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const x of prefetch(failing(), 2)) seen.push(x);
  }, /broken frame/);
  assert.deepEqual(seen, [1]);
});
