/**
 * The generator's second input when the network has `sourceWarp` (docs/design.md sec. 3.5): one of
 * the person's own frames, moved by a thin-plate spline from its landmarks to the target's
 * (augment.ts landmarkWarp). G sees it beside the landmark image and blends it into its output
 * through a mask it predicts, so the person's own pixels (skin, hair, eyes, background) reach the
 * output wherever a warp explains the target, and G draws only what the warp cannot (teeth, a
 * smile's cheeks, turned-away parts). Measured before building it: on the 12 held-out London
 * people, the neutral photo warped to the smiling photo's landmarks scores SSIM 0.869 against the
 * smile, where the neutral photo as it is scores 0.812 and the feed-forward generator 0.68.
 *
 * The frame that is warped is the one whose landmarks are nearest the target's (the least motion
 * to explain). Pure TypeScript on uint8 frames: used by episodes, fine-tuning, animation and the
 * browser alike.
 */
import { toUnit } from '../core/units.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';
import { inverseWarp, sampleBilinear, type ThinPlateSpline } from './augment.js';

/** Squared distance between two landmark sets (136 values each). */
function distance(a: ArrayLike<number>, ao: number, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < LANDMARK_VALUES; i++) s += (a[ao + i]! - b[i]!) ** 2;
  return s;
}

/**
 * The frame (of `count` in `landmarks`, 136 values each) whose landmarks are nearest `target`;
 * `exclude` is never picked unless it is the only frame.
 */
export function nearestFrame(
  landmarks: ArrayLike<number>,
  count: number,
  target: ArrayLike<number>,
  exclude = -1,
): number {
  let best = -1;
  let bestD = Infinity;
  for (let f = 0; f < count; f++) {
    if (f === exclude && count > 1) continue;
    const d = distance(landmarks, f * LANDMARK_VALUES, target);
    if (d < bestD) [best, bestD] = [f, d];
  }
  if (best < 0) throw new RangeError('nearestFrame: no frames');
  return best;
}

/**
 * The spline evaluated on a grid every `GRID_STEP` pixels and interpolated between: the warp is
 * smooth, so features land within 0.15 px of the dense map's and pixels differ by under 0.5 grey
 * levels on average (tested), at 1/16 of the kernel evaluations: what makes a warp per animated
 * frame cheap at 128 px and up.
 */
export const GRID_STEP = 4;

/** out pixel centre (x, y) -> source point, as two [size x size] maps (pixel-index coordinates). */
function sourceMap(inv: ThinPlateSpline, size: number, step: number): [Float32Array, Float32Array] {
  const n = Math.ceil((size - 1) / step) + 1;
  const gx = new Float32Array(n * n);
  const gy = new Float32Array(n * n);
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      const [x, y] = inv.map(Math.min(i * step, size - 1) + 0.5, Math.min(j * step, size - 1) + 0.5);
      gx[j * n + i] = x - 0.5;
      gy[j * n + i] = y - 0.5;
    }
  const mx = new Float32Array(size * size);
  const my = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const j0 = Math.min(n - 2, Math.floor(y / step));
    const fy = (y - j0 * step) / (Math.min((j0 + 1) * step, size - 1) - j0 * step);
    for (let x = 0; x < size; x++) {
      const i0 = Math.min(n - 2, Math.floor(x / step));
      const fx = (x - i0 * step) / (Math.min((i0 + 1) * step, size - 1) - i0 * step);
      const a = j0 * n + i0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      mx[y * size + x] = gx[a]! * w00 + gx[a + 1]! * w10 + gx[a + n]! * w01 + gx[a + n + 1]! * w11;
      my[y * size + x] = gy[a]! * w00 + gy[a + 1]! * w10 + gy[a + n]! * w01 + gy[a + n + 1]! * w11;
    }
  }
  return [mx, my];
}

/**
 * `rgb` (uint8, size x size) moved so that its landmarks `from` land on `to`: bilinear, edges
 * replicated. `step` 1 evaluates the spline at every pixel (the reference).
 */
export function warpFrame(
  rgb: Uint8Array,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  size: number,
  step = GRID_STEP,
): Uint8Array {
  if (rgb.length !== size * size * 3)
    throw new RangeError(`warpFrame: ${rgb.length} bytes is not a ${size}x${size} RGB frame`);
  const inv = inverseWarp(from, to, size);
  const [mx, my] = sourceMap(inv, size, Math.max(1, Math.min(step, size - 1)));
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < size * size; p++) sampleBilinear(rgb, size, mx[p]!, my[p]!, out, p * 3);
  return out;
}

/** A person's own frames: what a source warp draws from. */
export interface SourceFrames {
  /** uint8 RGB, `count` frames of size x size */
  rgb: Uint8Array;
  /** count x 136, in frame pixels */
  landmarks: Float32Array;
  count: number;
  size: number;
}

/**
 * Source warps for a list of target landmark sets, as [-1, 1] values (n x size x size x 3):
 * for each, the nearest of the person's frames moved onto it. `exclude[i]` keeps target i from
 * being drawn from frame exclude[i] (fine-tuning on the T frames themselves: a frame warped onto
 * its own landmarks teaches G that the warp is always right).
 */
export function sourceWarps(
  src: SourceFrames,
  targets: readonly ArrayLike<number>[],
  exclude?: readonly number[],
  /** filled with the frame each warp was drawn from */
  picked?: number[],
): Float32Array {
  const { size } = src;
  const fb = size * size * 3;
  const out = new Float32Array(targets.length * fb);
  targets.forEach((lm, i) => {
    const f = nearestFrame(src.landmarks, src.count, lm, exclude?.[i] ?? -1);
    if (picked) picked[i] = f;
    const from = src.landmarks.subarray(f * LANDMARK_VALUES, (f + 1) * LANDMARK_VALUES);
    toUnit(warpFrame(src.rgb.subarray(f * fb, (f + 1) * fb), from, lm, size), out, i * fb);
  });
  return out;
}
