/**
 * Following a face box between detections by its appearance (track.ts). The face as the detector
 * boxed it becomes a grey TEMPLATE² template; in each later frame the box is searched for near where
 * it was (shifts up to SEARCH_MARGIN of its size, three scales), and the position with the highest
 * normalised cross-correlation wins. The peak correlation is the frame's tracking confidence.
 *
 * Why not move the box with the frame's landmarks: the landmark net partly follows its crop, so a
 * box placed by its own landmarks drifts (on Megamind.avi's turning head it collapsed onto one eye
 * within ten frames). The template is the detector's view and does not drift; it is renewed at each
 * detection.
 */
import type { Box } from './detect.js';

export const TEMPLATE = 32;
/** search this fraction of the box's size in each direction */
export const SEARCH_MARGIN = 0.25;
const SCALES = [0.95, 1, 1.05];

/**
 * Mean grey over an nx x ny grid of cells (cw x ch pixels each) starting at (x0, y0); outside the
 * image counts as the nearest edge pixel. Each cell averages up to 4 x 4 samples.
 */
export function greyGrid(
  rgb: Uint8Array,
  w: number,
  h: number,
  x0: number,
  y0: number,
  cw: number,
  ch: number,
  nx: number,
  ny: number,
): Float32Array {
  const out = new Float32Array(nx * ny);
  const kx = Math.max(1, Math.min(4, Math.ceil(cw)));
  const ky = Math.max(1, Math.min(4, Math.ceil(ch)));
  const xs = new Int32Array(nx * kx);
  for (let i = 0; i < nx; i++)
    for (let a = 0; a < kx; a++)
      xs[i * kx + a] = Math.min(w - 1, Math.max(0, Math.floor(x0 + (i + (a + 0.5) / kx) * cw)));
  const inv = 1 / (3 * kx * ky);
  for (let j = 0; j < ny; j++) {
    for (let b = 0; b < ky; b++) {
      const y = Math.min(h - 1, Math.max(0, Math.floor(y0 + (j + (b + 0.5) / ky) * ch)));
      const row = y * w;
      for (let i = 0; i < nx; i++) {
        let s = 0;
        for (let a = 0; a < kx; a++) {
          const o = (row + xs[i * kx + a]!) * 3;
          s += rgb[o]! + rgb[o + 1]! + rgb[o + 2]!;
        }
        out[j * nx + i]! += s * inv;
      }
    }
  }
  return out;
}

/** Zero mean, unit norm (a flat patch stays zero). */
function normalise(t: Float32Array): Float32Array {
  let mean = 0;
  for (const v of t) mean += v;
  mean /= t.length;
  let n = 0;
  for (let i = 0; i < t.length; i++) n += (t[i]! -= mean) ** 2;
  const k = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let i = 0; i < t.length; i++) t[i]! *= k;
  return t;
}

/** The face in `box` as a template. */
export function faceTemplate(rgb: Uint8Array, w: number, h: number, box: Box): Float32Array {
  const t = TEMPLATE;
  return normalise(greyGrid(rgb, w, h, box.x, box.y, box.width / t, box.height / t, t, t));
}

/**
 * Best match of `template` near `box` in a frame: the new box and its correlation (-1..1). A flat
 * search area gives correlation 0.
 */
export function searchBox(
  rgb: Uint8Array,
  w: number,
  h: number,
  template: Float32Array,
  box: Box,
): { box: Box; score: number } {
  const t = TEMPLATE;
  const m = Math.round(SEARCH_MARGIN * t);
  const n = t + 2 * m; // search grid side
  let best = { box, score: -Infinity };
  for (const s of SCALES) {
    const cw = (s * box.width) / t;
    const ch = (s * box.height) / t;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const x0 = cx - (t / 2 + m) * cw;
    const y0 = cy - (t / 2 + m) * ch;
    const g = greyGrid(rgb, w, h, x0, y0, cw, ch, n, n);
    // integral images of g and g^2 for each window's mean and norm
    const I = new Float64Array((n + 1) * (n + 1));
    const I2 = new Float64Array((n + 1) * (n + 1));
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const v = g[y * n + x]!;
        const o = (y + 1) * (n + 1) + x + 1;
        I[o] = v + I[o - 1]! + I[o - n - 1]! - I[o - n - 2]!;
        I2[o] = v * v + I2[o - 1]! + I2[o - n - 1]! - I2[o - n - 2]!;
      }
    const rect = (A: Float64Array, u: number, v: number) =>
      A[(v + t) * (n + 1) + u + t]! -
      A[v * (n + 1) + u + t]! -
      A[(v + t) * (n + 1) + u]! +
      A[v * (n + 1) + u]!;
    for (let v = 0; v <= 2 * m; v++)
      for (let u = 0; u <= 2 * m; u++) {
        let dot = 0;
        for (let y = 0; y < t; y++) {
          const go = (v + y) * n + u;
          const to = y * t;
          for (let x = 0; x < t; x++) dot += template[to + x]! * g[go + x]!;
        }
        const sum = rect(I, u, v);
        const energy = rect(I2, u, v) - (sum * sum) / (t * t);
        const score = energy > 1e-6 ? dot / Math.sqrt(energy) : 0;
        if (score > best.score)
          best = {
            score,
            box: { x: x0 + u * cw, y: y0 + v * ch, width: s * box.width, height: s * box.height },
          };
      }
  }
  return best;
}
