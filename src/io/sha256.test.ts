import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { sha256Hex, sha256Js } from './sha256.js';

const bytes = (s: string) => new TextEncoder().encode(s);

test('SHA-256: the FIPS 180-2 examples, and any split of a long message into parts', () => {
  assert.equal(sha256Js([]), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Js([bytes('abc')]), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    sha256Js([bytes('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')]),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
  const long = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 131 + (i >> 7)) & 255);
  const want = createHash('sha256').update(long).digest('hex');
  assert.equal(sha256Js([long]), want);
  assert.equal(sha256Js([long.subarray(0, 7), long.subarray(7, 70), long.subarray(70)]), want);
  assert.equal(sha256Hex(long.subarray(0, 64), long.subarray(64)), want);
});
