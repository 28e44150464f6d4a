/**
 * Minimal TensorBoard event writer for scalars: TFRecord framing (length, masked CRC32C, data,
 * masked CRC32C) around hand-encoded `Event` protobufs, so `tensorboard --logdir RUN` shows the losses.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function masked(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);
const lenDelim = (field: number, bytes: number[]) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];

function event(wallTime: number, step: number, body: number[]): Uint8Array {
  const wt = Buffer.alloc(8);
  wt.writeDoubleLE(wallTime);
  return Uint8Array.from([...key(1, 1), ...wt, ...key(2, 0), ...varint(step), ...body]);
}

export function frameRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length));
  head.writeUInt32LE(masked(crc32c(head.subarray(0, 8))), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(masked(crc32c(data)));
  return Buffer.concat([head, data, tail]);
}

export class ScalarWriter {
  readonly path: string;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}`);
    // Event.file_version (field 3) first, as TensorFlow writes it.
    writeFileSync(this.path, frameRecord(event(Date.now() / 1000, 0, lenDelim(3, utf8('brain.Event:2')))));
  }

  scalars(step: number, values: Record<string, number>): void {
    const valueMsgs = Object.entries(values).flatMap(([tag, v]) => {
      const f = Buffer.alloc(4);
      f.writeFloatLE(v);
      // Summary.Value { tag = 1; simple_value = 2 (float, wire type 5) }
      return lenDelim(1, [...lenDelim(1, utf8(tag)), ...key(2, 5), ...f]);
    });
    // Event.summary = 5
    appendFileSync(this.path, frameRecord(event(Date.now() / 1000, step, lenDelim(5, valueMsgs))));
  }
}
