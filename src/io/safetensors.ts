/**
 * The safetensors format (https://huggingface.co/docs/safetensors), so checkpoints open in Python:
 *
 *   [8 bytes: N, little-endian u64] [N bytes: JSON header, space-padded] [raw little-endian data]
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the start of the data block) plus an optional "__metadata__" map of strings. Tensors are laid
 * out in order with no gaps, and the data block ends with the last one, as Python's reader requires.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { sha256Hex } from './sha256.js';

/** F16 holds IEEE half-precision bits (decoded by io/compact.ts), I8 signed bytes (quantised weights). */
export type SafeDtype = 'F32' | 'I32' | 'U8' | 'F16' | 'I8';

export interface RawTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array | Uint16Array | Int8Array;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const BYTES: Record<SafeDtype, number> = { F32: 4, I32: 4, U8: 1, F16: 2, I8: 1 };
/** Python's reader refuses headers over 100 MB; so do we (a corrupt length would allocate gigabytes). */
export const MAX_HEADER_BYTES = 100_000_000;

function dtypeOf(data: RawTensor['data']): SafeDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint16Array) return 'F16';
  if (data instanceof Int8Array) return 'I8';
  return 'U8';
}

/** Serialises tensors in the order given. Names must be unique; metadata values must be strings. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Omit<RawTensor, 'dtype'> & { dtype?: SafeDtype }>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { ...metadata } };
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError('A tensor cannot be named "__metadata__"');
    const dtype = t.dtype ?? dtypeOf(t.data);
    if (dtype !== dtypeOf(t.data))
      throw new SafetensorsError(`Tensor "${name}": dtype ${dtype} does not match its data`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new SafetensorsError(
        `Tensor "${name}": shape [${t.shape}] needs ${n} values, got ${t.data.length}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  // The checksum (CHECKSUM_KEY) covers the header as written without it, then the data section: a
  // changed byte anywhere, a changed metadata value included, no longer matches.
  const md = withoutChecksum((header['__metadata__'] as Record<string, string> | undefined) ?? {});
  header['__metadata__'] = md;
  const unsigned = new TextEncoder().encode(JSON.stringify(header));
  md[CHECKSUM_KEY] = sha256Hex(unsigned, ...parts);
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data block starts 8-byte aligned (what Python's writer does).
  const padded = new Uint8Array(json.length + ((8 - ((8 + json.length) % 8)) % 8)).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export interface Decoded {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
  /** the file carried this project's checksum and it matched (false: a file from before, or Python's) */
  checked: boolean;
}

/**
 * The metadata key of the checksum this project's writer stores: SHA-256 of the header without it,
 * then the data section. Files from other writers (Python's) have none and are read as they are.
 */
export const CHECKSUM_KEY = 'sha256';

type Fail = (why: string) => never;

/** The header's length from a file's first 8 bytes, checked against the limit and the file's size. */
function headerLength(first8: Uint8Array, fileBytes: number, fail: Fail): number {
  if (fileBytes < 8 || first8.length < 8)
    fail(`file is ${fileBytes} bytes, too short for a header (truncated?)`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes (corrupt file?)`);
  const hlen = Number(n);
  if (8 + hlen > fileBytes)
    fail(`header needs ${hlen} bytes but the file has ${fileBytes - 8} after the length (truncated?)`);
  return hlen;
}

/** The header's JSON object and its `__metadata__` (strings to strings). */
function parseHeader(
  json: Uint8Array,
  fail: Fail,
): { header: Record<string, unknown>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const md = (header as Record<string, unknown>)['__metadata__'];
  if (
    md !== undefined &&
    (typeof md !== 'object' || md === null || Object.values(md).some((x) => typeof x !== 'string'))
  )
    fail('"__metadata__" must map strings to strings');
  return { header: header as Record<string, unknown>, metadata: (md ?? {}) as Record<string, string> };
}

const withoutChecksum = (md: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(md).filter(([k]) => k !== CHECKSUM_KEY));

/**
 * With a checksum in the metadata: the header bytes must be exactly what the writer wrote (its JSON,
 * then spaces), and SHA-256 of that JSON without the checksum, then the data, must match it.
 */
function verifyChecksum(
  raw: Uint8Array,
  header: Record<string, unknown>,
  data: Uint8Array,
  fail: Fail,
): boolean {
  const md = header['__metadata__'] as Record<string, string> | undefined;
  const want = md?.[CHECKSUM_KEY];
  if (want === undefined) return false;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const same = json.length <= raw.length && json.every((b, i) => raw[i] === b);
  if (!same || raw.subarray(json.length).some((b) => b !== 0x20))
    fail('corrupt (checksum mismatch: the header was altered)');
  const rest = withoutChecksum(md!);
  const unsigned = new TextEncoder().encode(JSON.stringify({ ...header, __metadata__: rest }));
  if (sha256Hex(unsigned, data) !== want) fail('corrupt (checksum mismatch)');
  return true;
}

/**
 * A safetensors file's `__metadata__`, reading only its header (not the tensors): for listing
 * models without loading them. Errors are SafetensorsError, as decodeSafetensors's.
 */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  const fail = (why: string): never => {
    throw new SafetensorsError(`Cannot read ${path}: ${why}`);
  };
  const fd = openSync(path, 'r');
  try {
    const first8 = Buffer.alloc(8);
    const got = readSync(fd, first8, 0, 8, 0);
    const hlen = headerLength(first8.subarray(0, got), fstatSync(fd).size, fail);
    const json = Buffer.alloc(hlen);
    readSync(fd, json, 0, hlen, 8);
    return parseHeader(json, fail).metadata;
  } finally {
    closeSync(fd);
  }
}

/** Parses and validates safetensors bytes; `what` names the file in errors. */
export function decodeSafetensors(buf: Uint8Array, what = 'safetensors data'): Decoded {
  const fail = (why: string): never => {
    throw new SafetensorsError(`Cannot read ${what}: ${why}`);
  };
  const hlen = headerLength(buf.subarray(0, 8), buf.length, fail);
  const { header, metadata } = parseHeader(buf.subarray(8, 8 + hlen), fail);
  const data = buf.subarray(8 + hlen);
  const entries: [string, RawTensor, number, number][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype as SafeDtype;
    if (!(typeof dtype === 'string' && dtype in BYTES))
      fail(`tensor "${name}" has unsupported dtype ${String(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has an invalid shape`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has invalid data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]) {
      fail(
        `tensor "${name}" spans ${end - begin} bytes, but ${dtype}[${shape}] needs ${count * BYTES[dtype]}`,
      );
    }
    if (end > data.length)
      fail(`tensor "${name}" ends at byte ${end}, past the data (${data.length} bytes; truncated?)`);
    // Copy into an aligned buffer: typed arrays need alignment and must not alias the file buffer.
    const bytes = new Uint8Array(end - begin);
    bytes.set(data.subarray(begin, end));
    const arr =
      dtype === 'F32'
        ? new Float32Array(bytes.buffer)
        : dtype === 'I32'
          ? new Int32Array(bytes.buffer)
          : dtype === 'F16'
            ? new Uint16Array(bytes.buffer)
            : dtype === 'I8'
              ? new Int8Array(bytes.buffer)
              : bytes;
    entries.push([name, { dtype, shape: shape as number[], data: arr }, begin, end]);
  }
  // Tensors must tile the data block exactly: no overlaps, no holes, nothing after the last.
  const sorted = [...entries].sort((a, b) => a[2] - b[2]);
  let pos = 0;
  for (const [name, , begin, end] of sorted) {
    if (begin !== pos) fail(`tensor "${name}" starts at byte ${begin}, expected ${pos} (overlap or hole)`);
    pos = end;
  }
  if (pos !== data.length) fail(`${data.length - pos} bytes after the last tensor`);
  const checked = verifyChecksum(buf.subarray(8, 8 + hlen), header, data, fail);
  return { tensors: new Map(entries.map(([name, t]) => [name, t])), metadata, checked };
}

const noted = new Set<string>();
/**
 * The one-line note for a file without this project's checksum (written before files carried one):
 * read as it is, once per file and process.
 */
export function noteUnchecked(d: Decoded, what: string, log: (s: string) => void = console.warn): void {
  if (d.checked || noted.has(what)) return;
  noted.add(what);
  log(`Note: ${what} has no checksum (written before files carried one); read without that check.`);
}
