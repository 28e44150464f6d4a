/**
 * Image quality metrics of the paper's evaluation (sec. 4, docs/design.md sec. 6), on 8-bit RGB images.
 *
 * SSIM as Wang, Bovik, Sheikh & Simoncelli (2004) define it: local means, variances and covariance
 * under an 11x11 Gaussian window (sigma 1.5, normalised), C1 = (K1 L)^2 and C2 = (K2 L)^2 with
 * K1 = 0.01, K2 = 0.03 and data range L = 255, the map over the window positions that fit inside
 * the image ("valid", as the authors' reference ssim_index.m), averaged; on RGB per channel, then
 * averaged over the channels. PSNR = 10 log10(255^2 / MSE) over all pixels and channels.
 */

import type { RgbImage } from '../media/image.js';

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;
/** The data range L of 8-bit images. */
export const DATA_RANGE = 255;

/** The normalised 1-D Gaussian (the 2-D window is its outer product: it separates). */
export function gaussianWindow(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) w[i]! /= sum;
  return w;
}

function checkPair(a: RgbImage, b: RgbImage): void {
  if (a.width !== b.width || a.height !== b.height)
    throw new RangeError(`Images differ in size: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  const n = a.width * a.height * 3;
  if (a.data.length !== n || b.data.length !== n)
    throw new RangeError(`An RGB image of ${a.width}x${a.height} has ${n} bytes`);
}

/** Separable "valid" filtering of one plane: [h, w] -> [h - s + 1, w - s + 1]. */
function filterValid(x: Float64Array, w: number, h: number, g: Float64Array): Float64Array {
  const s = g.length;
  const ow = w - s + 1;
  const oh = h - s + 1;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++)
    for (let i = 0; i < ow; i++) {
      let acc = 0;
      for (let k = 0; k < s; k++) acc += g[k]! * x[y * w + i + k]!;
      rows[y * ow + i] = acc;
    }
  const out = new Float64Array(oh * ow);
  for (let j = 0; j < oh; j++)
    for (let i = 0; i < ow; i++) {
      let acc = 0;
      for (let k = 0; k < s; k++) acc += g[k]! * rows[(j + k) * ow + i]!;
      out[j * ow + i] = acc;
    }
  return out;
}

/** Mean SSIM of one channel's planes. */
function ssimPlane(x: Float64Array, y: Float64Array, w: number, h: number, g: Float64Array): number {
  const c1 = (SSIM_K1 * DATA_RANGE) ** 2;
  const c2 = (SSIM_K2 * DATA_RANGE) ** 2;
  const n = w * h;
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const mx = filterValid(x, w, h, g);
  const my = filterValid(y, w, h, g);
  const sxx = filterValid(xx, w, h, g);
  const syy = filterValid(yy, w, h, g);
  const sxy = filterValid(xy, w, h, g);
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const vx = sxx[i]! - ux * ux;
    const vy = syy[i]! - uy * uy;
    const cxy = sxy[i]! - ux * uy;
    sum += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return sum / mx.length;
}

/** SSIM of two RGB images (1 = identical), averaged over R, G and B. */
export function ssim(a: RgbImage, b: RgbImage): number {
  checkPair(a, b);
  const { width: w, height: h } = a;
  if (w < SSIM_WINDOW || h < SSIM_WINDOW)
    throw new RangeError(`SSIM needs images of at least ${SSIM_WINDOW}x${SSIM_WINDOW} pixels, got ${w}x${h}`);
  const g = gaussianWindow();
  const x = new Float64Array(w * h);
  const y = new Float64Array(w * h);
  let sum = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < w * h; i++) {
      x[i] = a.data[i * 3 + c]!;
      y[i] = b.data[i * 3 + c]!;
    }
    sum += ssimPlane(x, y, w, h, g);
  }
  return sum / 3;
}

/** Mean squared error over all pixels and channels, in 8-bit units. */
export function mse(a: RgbImage, b: RgbImage): number {
  checkPair(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i]! - b.data[i]!) ** 2;
  return s / a.data.length;
}

/** PSNR in dB (Infinity for identical images). */
export function psnr(a: RgbImage, b: RgbImage): number {
  const m = mse(a, b);
  return m === 0 ? Infinity : 10 * Math.log10((DATA_RANGE * DATA_RANGE) / m);
}

/** Mean SSIM and PSNR over pairs of frames (generated, real), as every table of the project reports them. */
export function meanQuality(
  fake: readonly RgbImage[],
  real: readonly RgbImage[],
): { ssim: number; psnr: number } {
  if (fake.length !== real.length || fake.length === 0)
    throw new RangeError(`meanQuality: ${fake.length} generated and ${real.length} real frames`);
  let s = 0;
  let p = 0;
  fake.forEach((f, i) => {
    s += ssim(f, real[i]!);
    p += psnr(f, real[i]!);
  });
  return { ssim: s / fake.length, psnr: p / fake.length };
}
