import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  CHECKSUM_KEY,
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  noteUnchecked,
  readSafetensorsMetadata,
  SafetensorsError,
} from './safetensors.js';

/** A file laid out by hand from the format description, independent of our encoder. */
function handMade(header: object, data: number[]): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(new Float32Array(data).buffer)]);
}

describe('safetensors byte layout', () => {
  test('encoder writes: u64 LE header length, JSON header, 8-byte aligned data in order', () => {
    const buf = Buffer.from(
      encodeSafetensors(
        new Map([
          ['b', { shape: [2], data: new Float32Array([1.5, -2]) }],
          ['a', { shape: [1, 1], data: new Int32Array([7]) }],
        ]),
        { note: 'x' },
      ),
    );
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0, 'data block must start 8-byte aligned');
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const unsigned = {
      __metadata__: { note: 'x' },
      b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      a: { dtype: 'I32', shape: [1, 1], data_offsets: [8, 12] },
    };
    const data = buf.subarray(8 + n);
    // the checksum: SHA-256 of the header written without it, then the data section
    const sum = createHash('sha256').update(JSON.stringify(unsigned)).update(data).digest('hex');
    assert.deepEqual(header, { ...unsigned, __metadata__: { note: 'x', [CHECKSUM_KEY]: sum } });
    assert.equal(data.length, 12);
    assert.equal(data.readFloatLE(0), 1.5);
    assert.equal(data.readFloatLE(4), -2);
    assert.equal(data.readInt32LE(8), 7);
  });

  test('decoder reads a hand-made file and round-trips our own', () => {
    const buf = handMade(
      { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, __metadata__: { format: 'pt' } },
      [1, 2, 3, 4],
    );
    const d = decodeSafetensors(buf);
    assert.deepEqual(d.metadata, { format: 'pt' });
    assert.deepEqual([...d.tensors.get('w')!.data], [1, 2, 3, 4]);
    assert.deepEqual(d.tensors.get('w')!.shape, [2, 2]);
    const again = decodeSafetensors(encodeSafetensors(d.tensors, d.metadata));
    assert.deepEqual([...again.tensors.get('w')!.data], [1, 2, 3, 4]);
  });

  test('bad files give clear errors', () => {
    const good = Buffer.from(
      encodeSafetensors(new Map([['t', { shape: [4], data: new Float32Array([1, 2, 3, 4]) }]])),
    );
    const bad = (buf: Buffer, pattern: RegExp) =>
      assert.throws(
        () => decodeSafetensors(buf, 'x.safetensors'),
        (e: unknown) => {
          assert.ok(e instanceof SafetensorsError);
          assert.match(e.message, /^Cannot read x\.safetensors: /);
          assert.match(e.message, pattern);
          return true;
        },
      );
    bad(good.subarray(0, 5), /too short/);
    bad(good.subarray(0, good.length - 3), /truncated/);
    bad(good.subarray(0, 20), /truncated/);
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1));
    bad(huge, /exceeds/);
    const notJson = Buffer.from(good);
    notJson[9] = 0x7b + 1;
    bad(notJson, /not valid JSON/);
    bad(handMade({ t: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, [0, 0]), /unsupported dtype/);
    bad(handMade({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, [0, 0]), /needs 12/);
    bad(
      handMade(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        [0, 0],
      ),
      /overlap or hole/,
    );
    bad(
      handMade({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, [0, 0]),
      /4 bytes after the last tensor/,
    );
  });
});

test('the header alone: the same metadata as a full decode; a truncated or bad header is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nth-st-'));
  try {
    const buf = encodeSafetensors(new Map([['a', { shape: [3], data: new Float32Array([1, 2, 3]) }]]), {
      step: '7',
    });
    const f = join(dir, 'm.safetensors');
    writeFileSync(f, buf);
    assert.deepEqual(Object.keys(readSafetensorsMetadata(f)), ['step', CHECKSUM_KEY]);
    assert.deepEqual(readSafetensorsMetadata(f), decodeSafetensors(buf).metadata);
    writeFileSync(f, buf.subarray(0, 20));
    assert.throws(
      () => readSafetensorsMetadata(f),
      (e: Error) => e instanceof SafetensorsError && /truncated/.test(e.message),
    );
    writeFileSync(f, handMade({ __metadata__: { n: 1 } }, []));
    assert.throws(() => readSafetensorsMetadata(f), /must map strings to strings/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('our files check themselves: a changed byte of the data or of a metadata value is refused; files without the checksum are read and noted', () => {
  const buf = encodeSafetensors(new Map([['a', { shape: [3], data: new Float32Array([1, 2, 3]) }]]), {
    step: '7',
  });
  assert.equal(decodeSafetensors(buf).checked, true);
  const body = Uint8Array.from(buf);
  body[body.length - 2]! ^= 0x10;
  assert.throws(
    () => decodeSafetensors(body, 'm.safetensors'),
    /m\.safetensors: corrupt \(checksum mismatch\)/,
  );
  const meta = Buffer.from(buf);
  const at = meta.indexOf('"7"');
  meta[at + 1] = '8'.charCodeAt(0);
  assert.throws(() => decodeSafetensors(meta, 'm.safetensors'), /corrupt \(checksum mismatch\)/);
  const pad = Buffer.from(buf);
  const n = Number(pad.readBigUInt64LE(0));
  if (pad[8 + n - 1] === 0x20) {
    pad[8 + n - 1] = 0x09; // a tab in the padding: still JSON, not what the writer wrote
    assert.throws(() => decodeSafetensors(pad, 'm.safetensors'), /header was altered/);
  }
  const old = handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, [5]);
  const d = decodeSafetensors(old, 'old.safetensors');
  assert.equal(d.checked, false);
  const said: string[] = [];
  noteUnchecked(d, 'old.safetensors', (s) => said.push(s));
  noteUnchecked(d, 'old.safetensors', (s) => said.push(s));
  assert.deepEqual(said, [
    'Note: old.safetensors has no checksum (written before files carried one); read without that check.',
  ]);
});
