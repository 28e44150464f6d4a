// A full disk: writers stop with the disk being full and the asked path, and leave nothing behind.
// Needs a small tmpfs (root); skipped with the reason elsewhere. `npm run stress` probes every writer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openOutput } from '../src/animate/output.js';
import { explain } from '../src/cli/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';

const base = mkdtempSync(join(tmpdir(), 'nth-full-'));
const fs = join(base, 'full');
mkdirSync(fs);
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12k', 'tmpfs', fs]).status === 0;
after(() => {
  if (mounted) spawnSync('umount', [fs]);
  rmSync(base, { recursive: true, force: true });
});
const skip = mounted ? false : 'mounting a small tmpfs needs root (npm run stress reports the same as root)';

test(
  'an MP4 that does not fit: ffmpeg exits 0 after "Error writing trailer", the writer still fails',
  { skip },
  async () => {
    const out = openOutput(join(fs, 'a.mp4'), { fps: 25 });
    const frame = (i: number) => ({
      width: 128,
      height: 128,
      data: Uint8Array.from({ length: 128 * 128 * 3 }, (_, k) => (k * 31 + i * 17 + (k >> 9)) & 255),
    });
    for (let i = 0; i < 50; i++) await out.write(frame(i));
    await assert.rejects(out.close(), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'ENOSPC');
      assert.match(explain(e), new RegExp(`Cannot write "${join(fs, 'a.mp4')}": the disk is full`));
      return true;
    });
    assert.deepEqual(readdirSync(fs), [], 'no file under the asked name, no temporary one');
  },
);

test('an atomic write that does not fit names the asked file and keeps the old one', { skip }, () => {
  writeFileSync(join(fs, 'old.json'), '{"kept": true}');
  assert.throws(
    () => writeFileAtomic(join(fs, 'old.json'), Buffer.alloc(64 * 1024)),
    (e: NodeJS.ErrnoException) => e.code === 'ENOSPC' && e.path === join(fs, 'old.json'),
  );
  assert.deepEqual(readdirSync(fs), ['old.json']);
});
