/**
 * Face crops (docs/design.md sec. 2): a square around the landmarks' bounding box, enlarged by a fixed
 * factor and shifted up to include the hair, smoothed over time, padded by edge replication where it
 * leaves the image, resized by area averaging (downscale) or bilinear interpolation (upscale).
 */
import { landmarkBox } from './landmarks.js';

export interface Square {
  cx: number;
  cy: number;
  side: number;
}

export interface CropOptions {
  /** side = scale x the longer side of the landmark box (1.8 in docs/design.md) */
  scale: number;
  /** move the centre up by this fraction of the side (room for hair) */
  shiftUp: number;
}

export const DEFAULT_CROP: CropOptions = { scale: 1.8, shiftUp: 0.1 };

export function squareFor(landmarks: ArrayLike<number>, o: CropOptions = DEFAULT_CROP): Square {
  const [x0, y0, x1, y1] = landmarkBox(landmarks);
  const side = Math.max(x1 - x0, y1 - y0) * o.scale;
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2 - o.shiftUp * side, side };
}

/** Exponential smoothing of crop squares along a video (alpha = weight of the new frame). */
export class SquareSmoother {
  private s: Square | null = null;
  constructor(private readonly alpha = 0.35) {}
  next(q: Square): Square {
    const a = this.alpha;
    this.s = this.s
      ? {
          cx: this.s.cx + a * (q.cx - this.s.cx),
          cy: this.s.cy + a * (q.cy - this.s.cy),
          side: this.s.side + a * (q.side - this.s.side),
        }
      : { ...q };
    return { ...this.s };
  }
}

/**
 * Crops `sq` from an RGB image and resizes it to res x res. Outside pixels replicate the edge, or
 * are `fill` (0-255) when given (the face detector's and landmark net's inputs are zero-padded, as
 * face-api pads them).
 */
export function cropResize(
  rgb: Uint8Array,
  w: number,
  h: number,
  sq: Square,
  res: number,
  fill?: number,
): Uint8Array {
  const out = new Uint8Array(res * res * 3);
  const x0 = sq.cx - sq.side / 2;
  const y0 = sq.cy - sq.side / 2;
  const step = sq.side / res; // source pixels per output pixel
  const edge = fill === undefined;
  // Offset of pixel (x, y), or -1 outside the image when filling.
  const at = (x: number, y: number): number => {
    if (x < 0 || y < 0 || x >= w || y >= h) {
      if (!edge) return -1;
      x = Math.min(w - 1, Math.max(0, x));
      y = Math.min(h - 1, Math.max(0, y));
    }
    return (y * w + x) * 3;
  };
  const px = (o: number, c: number) => (o < 0 ? fill! : rgb[o + c]!);
  if (step > 1.5) {
    // area average over the footprint [sx, sx + step) x [sy, sy + step), sampled on an integer grid
    const n = Math.ceil(step);
    const xs = new Int32Array(res * n);
    for (let ox = 0; ox < res; ox++)
      for (let i = 0; i < n; i++) xs[ox * n + i] = Math.floor(x0 + ox * step + ((i + 0.5) * step) / n);
    for (let oy = 0; oy < res; oy++) {
      const sy = y0 + oy * step;
      for (let ox = 0; ox < res; ox++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let j = 0; j < n; j++) {
          const y = Math.floor(sy + ((j + 0.5) * step) / n);
          for (let i = 0; i < n; i++) {
            const o = at(xs[ox * n + i]!, y);
            r += px(o, 0);
            g += px(o, 1);
            b += px(o, 2);
          }
        }
        const k = 1 / (n * n);
        const d = (oy * res + ox) * 3;
        out[d] = Math.round(r * k);
        out[d + 1] = Math.round(g * k);
        out[d + 2] = Math.round(b * k);
      }
    }
    return out;
  }
  // Bilinear (a Uint8Array store truncates: + 0.5 rounds): per column and row, the two source indices (-1: outside, filled) and the weight.
  const axis = (start: number, size: number) => {
    const lo = new Int32Array(res);
    const hi = new Int32Array(res);
    const t = new Float32Array(res);
    for (let o = 0; o < res; o++) {
      const f = start + (o + 0.5) * step - 0.5;
      const i = Math.floor(f);
      t[o] = f - i;
      const clampOrOut = (k: number) =>
        k >= 0 && k < size ? k : edge ? Math.min(size - 1, Math.max(0, k)) : -1;
      lo[o] = clampOrOut(i);
      hi[o] = clampOrOut(i + 1);
    }
    return { lo, hi, t };
  };
  const X = axis(x0, w);
  const Y = axis(y0, h);
  const f = fill ?? 0;
  for (let oy = 0; oy < res; oy++) {
    const ty = Y.t[oy]!;
    const r0 = Y.lo[oy]! < 0 ? -1 : Y.lo[oy]! * w;
    const r1 = Y.hi[oy]! < 0 ? -1 : Y.hi[oy]! * w;
    for (let ox = 0; ox < res; ox++) {
      const tx = X.t[ox]!;
      const c0 = X.lo[ox]!;
      const c1 = X.hi[ox]!;
      const o00 = r0 < 0 || c0 < 0 ? -1 : (r0 + c0) * 3;
      const o10 = r0 < 0 || c1 < 0 ? -1 : (r0 + c1) * 3;
      const o01 = r1 < 0 || c0 < 0 ? -1 : (r1 + c0) * 3;
      const o11 = r1 < 0 || c1 < 0 ? -1 : (r1 + c1) * 3;
      const d = (oy * res + ox) * 3;
      const w00 = (1 - tx) * (1 - ty);
      const w10 = tx * (1 - ty);
      const w01 = (1 - tx) * ty;
      const w11 = tx * ty;
      if (o00 >= 0 && o10 >= 0 && o01 >= 0 && o11 >= 0) {
        out[d] = rgb[o00]! * w00 + rgb[o10]! * w10 + rgb[o01]! * w01 + rgb[o11]! * w11 + 0.5;
        out[d + 1] =
          rgb[o00 + 1]! * w00 + rgb[o10 + 1]! * w10 + rgb[o01 + 1]! * w01 + rgb[o11 + 1]! * w11 + 0.5;
        out[d + 2] =
          rgb[o00 + 2]! * w00 + rgb[o10 + 2]! * w10 + rgb[o01 + 2]! * w01 + rgb[o11 + 2]! * w11 + 0.5;
        continue;
      }
      for (let c = 0; c < 3; c++) {
        const v00 = o00 < 0 ? f : rgb[o00 + c]!;
        const v10 = o10 < 0 ? f : rgb[o10 + c]!;
        const v01 = o01 < 0 ? f : rgb[o01 + c]!;
        const v11 = o11 < 0 ? f : rgb[o11 + c]!;
        out[d + c] = v00 * w00 + v10 * w10 + v01 * w01 + v11 * w11 + 0.5;
      }
    }
  }
  return out;
}

/** Landmarks mapped into the crop's pixel coordinates. */
export function landmarksInCrop(landmarks: ArrayLike<number>, sq: Square, res: number): Float32Array {
  const out = new Float32Array(landmarks.length);
  const k = res / sq.side;
  const x0 = sq.cx - sq.side / 2;
  const y0 = sq.cy - sq.side / 2;
  for (let i = 0; i < landmarks.length; i += 2) {
    out[i] = (landmarks[i]! - x0) * k;
    out[i + 1] = (landmarks[i + 1]! - y0) * k;
  }
  return out;
}
