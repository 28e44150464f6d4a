import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { explain } from './errors.js';

test('file-system errors are said in words, with the path and the fix', () => {
  const file = join(tmpdir(), `nth-errors-${process.pid}`);
  writeFileSync(file, 'x');
  const got = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return explain(e);
    }
    throw new Error('expected a failure');
  };
  assert.match(
    got(() => mkdirSync(file)),
    new RegExp(`Cannot write "${file}": a file is in the way.*Choose another -o`),
  );
  assert.match(
    got(() => mkdirSync(join(file, 'sub'), { recursive: true })),
    /a file is in the way \(ENOTDIR/,
  );
  assert.equal(explain(new Error('plain')), 'plain');
});
