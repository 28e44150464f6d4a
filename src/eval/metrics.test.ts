import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussianWindow, meanQuality, mse, psnr, ssim } from './metrics.js';
import { type RgbImage } from '../media/image.js';

const image = (w: number, h: number, f: (x: number, y: number, c: number) => number): RgbImage => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { width: w, height: h, data };
};

/**
 * The reference twin: Wang et al.'s formula at one window position written out directly in 2-D
 * (no separable filtering), for a window-sized image where the SSIM map has exactly one value.
 */
function ssimOneWindow(a: RgbImage, b: RgbImage): number {
  const s = 11;
  const sigma = 1.5;
  const w2: number[] = [];
  for (let y = 0; y < s; y++)
    for (let x = 0; x < s; x++) w2.push(Math.exp(-((x - 5) ** 2 + (y - 5) ** 2) / (2 * sigma * sigma)));
  const total = w2.reduce((p, q) => p + q, 0);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let mean = 0;
  for (let c = 0; c < 3; c++) {
    let ux = 0;
    let uy = 0;
    w2.forEach((w, i) => {
      ux += (w / total) * a.data[i * 3 + c]!;
      uy += (w / total) * b.data[i * 3 + c]!;
    });
    let vx = 0;
    let vy = 0;
    let cxy = 0;
    w2.forEach((w, i) => {
      const dx = a.data[i * 3 + c]! - ux;
      const dy = b.data[i * 3 + c]! - uy;
      vx += (w / total) * dx * dx;
      vy += (w / total) * dy * dy;
      cxy += (w / total) * dx * dy;
    });
    mean += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2)) / 3;
  }
  return mean;
}

describe('SSIM (Wang et al. 2004)', () => {
  // a hash of (seed, x, y, c) in 0..255: independent images for different seeds
  const noise = (seed: number) => (x: number, y: number, c: number) => {
    let h = (seed * 73856093) ^ (x * 19349663) ^ (y * 83492791) ^ (c * 2654435761);
    h = Math.imul(h ^ (h >>> 15), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return ((h ^ (h >>> 16)) >>> 0) % 256;
  };

  test('the Gaussian window: 11 taps, sigma 1.5, sums to 1, symmetric, peak at the centre', () => {
    const g = gaussianWindow();
    assert.equal(g.length, 11);
    assert.ok(Math.abs(g.reduce((s, v) => s + v, 0) - 1) < 1e-12);
    for (let i = 0; i < 5; i++) assert.equal(g[i], g[10 - i]);
    assert.ok(Math.abs(g[5]! / g[4]! - Math.exp(1 / (2 * 1.5 * 1.5))) < 1e-12);
  });

  test('identical images: exactly 1; symmetric in its arguments', () => {
    const a = image(20, 16, noise(1));
    const b = image(20, 16, noise(2));
    assert.equal(ssim(a, a), 1);
    assert.equal(ssim(a, b), ssim(b, a));
    assert.ok(ssim(a, b) < 0.1, `unrelated noise images: ${ssim(a, b)}`);
  });

  test('flat images: the luminance term alone, (2 p q + C1) / (p^2 + q^2 + C1), worked by hand', () => {
    // p = 100, q = 120: C1 = 6.5025, (24000 + 6.5025) / (10000 + 14400 + 6.5025) = 0.98361092...
    const v = ssim(
      image(16, 16, () => 100),
      image(16, 16, () => 120),
    );
    assert.ok(Math.abs(v - 24006.5025 / 24406.5025) < 1e-12, String(v));
    assert.ok(Math.abs(v - 0.9836109) < 1e-7);
  });

  test('one window position: equals the formula written out in 2-D', () => {
    const a = image(11, 11, noise(3));
    const b = image(11, 11, (x, y, c) =>
      Math.min(255, Math.max(0, noise(3)(x, y, c) + ((x * 7 + y * 3) % 40) - 20)),
    );
    const ref = ssimOneWindow(a, b);
    assert.ok(Math.abs(ssim(a, b) - ref) < 1e-12, `${ssim(a, b)} vs ${ref}`);
    assert.ok(ref > 0.5 && ref < 1, String(ref));
  });

  test('more noise, lower SSIM; a negative image scores below 0', () => {
    const a = image(32, 32, noise(4));
    const scores = [10, 30, 60].map((amp) =>
      ssim(
        a,
        image(32, 32, (x, y, c) =>
          Math.min(
            255,
            Math.max(0, a.data[(y * 32 + x) * 3 + c]! + ((x * 31 + y * 17 + c * 5) % (2 * amp)) - amp),
          ),
        ),
      ),
    );
    assert.ok(scores[0]! > scores[1]! && scores[1]! > scores[2]!, scores.join(' '));
    assert.ok(
      ssim(
        a,
        image(32, 32, (x, y, c) => 255 - a.data[(y * 32 + x) * 3 + c]!),
      ) < 0,
    );
  });

  test('bad input: different sizes, too small for the window', () => {
    assert.throws(
      () =>
        ssim(
          image(16, 16, () => 0),
          image(16, 12, () => 0),
        ),
      /differ in size: 16x16 and 16x12/,
    );
    assert.throws(
      () =>
        ssim(
          image(8, 8, () => 0),
          image(8, 8, () => 0),
        ),
      /at least 11x11/,
    );
  });
});

describe('PSNR', () => {
  test('an offset of d gray levels: MSE d^2, PSNR 20 log10(255 / d)', () => {
    const a = image(8, 8, (x, y) => 50 + x + y);
    const b = image(8, 8, (x, y) => 53 + x + y);
    assert.equal(mse(a, b), 9);
    assert.ok(Math.abs(psnr(a, b) - 20 * Math.log10(255 / 3)) < 1e-12);
    assert.ok(Math.abs(psnr(a, b) - 38.588) < 1e-3); // 48.131 dB at d = 1, minus 20 log10 3
    assert.equal(psnr(a, a), Infinity);
  });
});

test('meanQuality: the mean of each pair SSIM and PSNR; mismatched lists refused', () => {
  const im = (v: number[]): RgbImage => ({
    width: 16,
    height: 16,
    data: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => v[i % v.length]!),
  });
  const a = im([10, 200, 90, 40]);
  const b = im([12, 190, 95, 44, 7]);
  const c = im([200, 20, 10]);
  const q = meanQuality([a, b], [b, c]);
  assert.ok(Math.abs(q.ssim - (ssim(a, b) + ssim(b, c)) / 2) < 1e-12);
  assert.ok(Math.abs(q.psnr - (psnr(a, b) + psnr(b, c)) / 2) < 1e-12);
  assert.throws(() => meanQuality([a], [b, c]), /1 generated and 2 real/);
});
