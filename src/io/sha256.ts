/**
 * SHA-256 (FIPS 180-4) of bytes, as lower-case hex: Node's crypto where it exists, else this file's
 * own implementation (the browser app, where files are checked synchronously as they are decoded).
 */
import { createHash } from 'node:crypto';

const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** The pure implementation over several parts read as one message. */
export function sha256Js(parts: readonly Uint8Array[]): string {
  const h = Uint32Array.from([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const block = new Uint8Array(64);
  let filled = 0;
  let total = 0;
  const compress = (b: Uint8Array, at: number) => {
    for (let i = 0; i < 16; i++)
      w[i] =
        (b[at + 4 * i]! << 24) | (b[at + 4 * i + 1]! << 16) | (b[at + 4 * i + 2]! << 8) | b[at + 4 * i + 3]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let [a, b2, c, d, e, f, g, hh] = h as unknown as number[];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e! >>> 6) | (e! << 26)) ^ ((e! >>> 11) | (e! << 21)) ^ ((e! >>> 25) | (e! << 7));
      const ch = (e! & f!) ^ (~e! & g!);
      const t1 = (hh! + S1 + ch + K[i]! + w[i]!) | 0;
      const S0 = ((a! >>> 2) | (a! << 30)) ^ ((a! >>> 13) | (a! << 19)) ^ ((a! >>> 22) | (a! << 10));
      const maj = (a! & b2!) ^ (a! & c!) ^ (b2! & c!);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d! + t1) | 0;
      d = c;
      c = b2;
      b2 = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a!;
    h[1] = h[1]! + b2!;
    h[2] = h[2]! + c!;
    h[3] = h[3]! + d!;
    h[4] = h[4]! + e!;
    h[5] = h[5]! + f!;
    h[6] = h[6]! + g!;
    h[7] = h[7]! + hh!;
  };
  for (const p of parts) {
    total += p.length;
    let i = 0;
    if (filled) {
      const n = Math.min(64 - filled, p.length);
      block.set(p.subarray(0, n), filled);
      filled += n;
      i = n;
      if (filled === 64) {
        compress(block, 0);
        filled = 0;
      }
    }
    for (; i + 64 <= p.length; i += 64) compress(p, i);
    if (i < p.length) {
      block.set(p.subarray(i), 0);
      filled = p.length - i;
    }
  }
  // padding: 0x80, zeros, the length in bits as a 64-bit big-endian number
  block[filled++] = 0x80;
  if (filled > 56) {
    block.fill(0, filled);
    compress(block, 0);
    filled = 0;
  }
  block.fill(0, filled);
  const bits = total * 8;
  const hi = Math.floor(bits / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    block[56 + i] = (hi >>> (24 - 8 * i)) & 0xff;
    block[60 + i] = (bits >>> (24 - 8 * i)) & 0xff;
  }
  compress(block, 0);
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

const NODE = typeof process !== 'undefined' && Boolean(process.versions?.node);

/** SHA-256 of the parts read as one message, hex. */
export function sha256Hex(...parts: Uint8Array[]): string {
  if (!NODE) return sha256Js(parts);
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}
