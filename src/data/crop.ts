/**
 * Face crops (design.md sec. 2): a square around the landmarks' bounding box, enlarged by a fixed
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
  /** side = scale x the longer side of the landmark box (1.8 in design.md) */
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

/** Crops `sq` from an RGB image and resizes it to res x res. Outside pixels replicate the edge. */
export function cropResize(rgb: Uint8Array, w: number, h: number, sq: Square, res: number): Uint8Array {
  const out = new Uint8Array(res * res * 3);
  const x0 = sq.cx - sq.side / 2;
  const y0 = sq.cy - sq.side / 2;
  const step = sq.side / res; // source pixels per output pixel
  const at = (x: number, y: number, c: number) =>
    rgb[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * 3 + c]!;
  if (step > 1.5) {
    // area average over the footprint [sx, sx + step) x [sy, sy + step), sampled on an integer grid
    const n = Math.ceil(step);
    for (let oy = 0; oy < res; oy++) {
      for (let ox = 0; ox < res; ox++) {
        const sx = x0 + ox * step;
        const sy = y0 + oy * step;
        const acc = [0, 0, 0];
        let cnt = 0;
        for (let j = 0; j < n; j++) {
          const y = Math.floor(sy + ((j + 0.5) * step) / n);
          for (let i = 0; i < n; i++) {
            const x = Math.floor(sx + ((i + 0.5) * step) / n);
            for (let c = 0; c < 3; c++) acc[c]! += at(x, y, c);
            cnt++;
          }
        }
        for (let c = 0; c < 3; c++) out[(oy * res + ox) * 3 + c] = Math.round(acc[c]! / cnt);
      }
    }
    return out;
  }
  for (let oy = 0; oy < res; oy++) {
    const fy = y0 + (oy + 0.5) * step - 0.5;
    const yi = Math.floor(fy);
    const ty = fy - yi;
    for (let ox = 0; ox < res; ox++) {
      const fx = x0 + (ox + 0.5) * step - 0.5;
      const xi = Math.floor(fx);
      const tx = fx - xi;
      for (let c = 0; c < 3; c++) {
        const top = at(xi, yi, c) * (1 - tx) + at(xi + 1, yi, c) * tx;
        const bot = at(xi, yi + 1, c) * (1 - tx) + at(xi + 1, yi + 1, c) * tx;
        out[(oy * res + ox) * 3 + c] = Math.round(top * (1 - ty) + bot * ty);
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
