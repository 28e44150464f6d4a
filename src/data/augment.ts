/**
 * Augmentations that make new training frames with known landmarks (beyond the paper: it had
 * VoxCeleb2's thousands of videos; real people here come with one or two photos each, so new
 * frames are made from the ones there are):
 *
 *   - horizontal flip: the image mirrored, the landmarks mirrored and re-indexed (the left eye of
 *     the flipped face is the right eye of the original: iBUG order, MIRROR_68);
 *   - similarity jitter: a small rotation, scale and shift of a frame and its landmarks;
 *   - colour jitter: brightness, contrast, saturation and per-channel gain;
 *   - landmark-driven warp: a thin-plate spline that moves the photo's 68 points to a moved set
 *     (another face's expression and pose retargeted onto this face, faces/retarget.ts), with the
 *     crop's border pinned, so a one-photo person gets a second frame with a new expression.
 *
 * Geometry is one inverse map per output frame (out pixel -> source point), sampled bilinearly once.
 * Coordinates are continuous: pixel x covers [x, x + 1), its centre is x + 0.5 (landmarks.ts).
 */
import { NUM_LANDMARKS } from '../faces/landmarks.js';

const N = NUM_LANDMARKS;

/**
 * iBUG 68-point order mirrored: index i of a flipped face is point MIRROR_68[i] of the original
 * (jaw 0-16 reversed, brows 17-21 <-> 26-22, nose bridge kept, lower nose 31-35 reversed, eyes 36-41
 * <-> 45-42 (with 40, 41 <-> 47, 46), outer lip 48-54 reversed and 55-59 reversed, inner lip likewise).
 */
export const MIRROR_68: readonly number[] = (() => {
  const m = Array.from({ length: N }, (_, i) => i);
  const swap = (a: number, b: number) => {
    m[a] = b;
    m[b] = a;
  };
  for (let i = 0; i < 8; i++) swap(i, 16 - i);
  for (let i = 0; i < 5; i++) swap(17 + i, 26 - i);
  swap(31, 35);
  swap(32, 34);
  [
    [36, 45],
    [37, 44],
    [38, 43],
    [39, 42],
    [40, 47],
    [41, 46],
    [48, 54],
    [49, 53],
    [50, 52],
    [55, 59],
    [56, 58],
    [60, 64],
    [61, 63],
    [65, 67],
  ].forEach(([a, b]) => swap(a!, b!));
  return m;
})();

/** Landmarks of the horizontally flipped image of width `size`: x -> size - x, re-indexed. */
export function flipLandmarks(
  lm: ArrayLike<number>,
  size: number,
  out = new Float32Array(2 * N),
): Float32Array {
  for (let i = 0; i < N; i++) {
    const j = MIRROR_68[i]!;
    out[2 * i] = size - lm[2 * j]!;
    out[2 * i + 1] = lm[2 * j + 1]!;
  }
  return out;
}

/** A rotation by `angle` (radians) and scale `scale` about the image centre, then a shift (pixels). */
export interface SimilarityJitter {
  angle: number;
  scale: number;
  dx: number;
  dy: number;
}

/** Applies a similarity jitter to a point of a `size` x `size` image. */
function jitterPoint(j: SimilarityJitter, size: number, x: number, y: number): [number, number] {
  const c = size / 2;
  const cos = Math.cos(j.angle) * j.scale;
  const sin = Math.sin(j.angle) * j.scale;
  const u = x - c;
  const v = y - c;
  return [c + cos * u - sin * v + j.dx, c + sin * u + cos * v + j.dy];
}

/** Its inverse. */
function unjitterPoint(j: SimilarityJitter, size: number, x: number, y: number): [number, number] {
  const c = size / 2;
  const cos = Math.cos(-j.angle) / j.scale;
  const sin = Math.sin(-j.angle) / j.scale;
  const u = x - c - j.dx;
  const v = y - c - j.dy;
  return [c + cos * u - sin * v, c + sin * u + cos * v];
}

/**
 * A thin-plate spline R^2 -> R^2 through control points (Bookstein 1989): f(p) = a0 + A p +
 * sum_i w_i U(|p - c_i|), U(r) = r^2 log r^2, with the side conditions sum w_i = 0, sum w_i c_i = 0.
 * `lambda` > 0 smooths (ridge on the kernel matrix), which keeps near-coincident points solvable.
 */
export class ThinPlateSpline {
  private readonly cx: Float64Array;
  private readonly cy: Float64Array;
  /** per output coordinate: n kernel weights then a0, ax, ay */
  private readonly coef: [Float64Array, Float64Array];

  constructor(from: ArrayLike<number>, to: ArrayLike<number>, lambda = 1e-6) {
    const n = from.length / 2;
    if (to.length !== from.length || n < 3) throw new RangeError('ThinPlateSpline: needs >= 3 point pairs');
    this.cx = new Float64Array(n);
    this.cy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.cx[i] = from[2 * i]!;
      this.cy[i] = from[2 * i + 1]!;
    }
    const m = n + 3;
    const a = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++)
        a[i * m + j] = i === j ? lambda : kernel(this.cx[i]! - this.cx[j]!, this.cy[i]! - this.cy[j]!);
      const p = [1, this.cx[i]!, this.cy[i]!];
      for (let k = 0; k < 3; k++) {
        a[i * m + n + k] = p[k]!;
        a[(n + k) * m + i] = p[k]!;
      }
    }
    const bx = new Float64Array(m);
    const by = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      bx[i] = to[2 * i]!;
      by[i] = to[2 * i + 1]!;
    }
    this.coef = solveTwo(a, m, bx, by);
  }

  map(x: number, y: number): [number, number] {
    const n = this.cx.length;
    const [wx, wy] = this.coef;
    let fx = wx[n]! + wx[n + 1]! * x + wx[n + 2]! * y;
    let fy = wy[n]! + wy[n + 1]! * x + wy[n + 2]! * y;
    for (let i = 0; i < n; i++) {
      const u = kernel(x - this.cx[i]!, y - this.cy[i]!);
      fx += wx[i]! * u;
      fy += wy[i]! * u;
    }
    return [fx, fy];
  }
}

function kernel(dx: number, dy: number): number {
  const r2 = dx * dx + dy * dy;
  return r2 > 1e-12 ? r2 * Math.log(r2) : 0;
}

/** Solves A x = b for two right-hand sides (Gaussian elimination, partial pivoting); A is overwritten. */
function solveTwo(
  a: Float64Array,
  m: number,
  b1: Float64Array,
  b2: Float64Array,
): [Float64Array, Float64Array] {
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(a[r * m + c]!) > Math.abs(a[p * m + c]!)) p = r;
    if (Math.abs(a[p * m + c]!) < 1e-12)
      throw new RangeError('ThinPlateSpline: control points are degenerate');
    if (p !== c) {
      for (let k = 0; k < m; k++) [a[c * m + k], a[p * m + k]] = [a[p * m + k]!, a[c * m + k]!];
      [b1[c], b1[p]] = [b1[p]!, b1[c]!];
      [b2[c], b2[p]] = [b2[p]!, b2[c]!];
    }
    const d = a[c * m + c]!;
    for (let r = c + 1; r < m; r++) {
      const f = a[r * m + c]! / d;
      if (f === 0) continue;
      for (let k = c; k < m; k++) a[r * m + k]! -= f * a[c * m + k]!;
      b1[r]! -= f * b1[c]!;
      b2[r]! -= f * b2[c]!;
    }
  }
  for (let c = m - 1; c >= 0; c--) {
    let s1 = b1[c]!;
    let s2 = b2[c]!;
    for (let k = c + 1; k < m; k++) {
      s1 -= a[c * m + k]! * b1[k]!;
      s2 -= a[c * m + k]! * b2[k]!;
    }
    b1[c] = s1 / a[c * m + c]!;
    b2[c] = s2 / a[c * m + c]!;
  }
  return [b1, b2];
}

/**
 * The warp's control points: every landmark but the inner lip (60-67), whose upper and lower points
 * coincide on a closed mouth (a singular spline); they follow the outer lip instead. Plus 12
 * points on the crop's border, pinned, so the background stays where it is.
 */
export const WARP_CONTROL = Array.from({ length: 60 }, (_, i) => i);

function borderPoints(size: number): number[] {
  const pts: number[] = [];
  for (const t of [0, 1 / 3, 2 / 3]) {
    const s = t * size;
    pts.push(s, 0, size, s, size - s, size, 0, size - s);
  }
  return pts;
}

function controlSet(lm: ArrayLike<number>, size: number): number[] {
  const pts: number[] = [];
  for (const i of WARP_CONTROL) pts.push(lm[2 * i]!, lm[2 * i + 1]!);
  return pts.concat(borderPoints(size));
}

/** A landmark-driven warp of one frame: its landmarks `from` move to `to` (the inner lip follows). */
export interface LandmarkWarp {
  /** out point -> source point */
  inverse: ThinPlateSpline;
  /** where the warp takes the 68 landmarks */
  landmarks: Float32Array;
}

/** The spline of a landmark warp from out points to source points (what resampling needs). */
export function inverseWarp(from: ArrayLike<number>, to: ArrayLike<number>, size: number): ThinPlateSpline {
  return new ThinPlateSpline(controlSet(to, size), controlSet(from, size));
}

export function landmarkWarp(from: ArrayLike<number>, to: ArrayLike<number>, size: number): LandmarkWarp {
  const src = controlSet(from, size);
  const dst = controlSet(to, size);
  const forward = new ThinPlateSpline(src, dst);
  const landmarks = new Float32Array(2 * N);
  for (let i = 0; i < N; i++) {
    const [x, y] = i < 60 ? [to[2 * i]!, to[2 * i + 1]!] : forward.map(from[2 * i]!, from[2 * i + 1]!);
    landmarks[2 * i] = x;
    landmarks[2 * i + 1] = y;
  }
  return { inverse: new ThinPlateSpline(dst, src), landmarks };
}

/** Colour jitter, applied as v' = mean + contrast (gain_c v + brightness - mean), then saturation. */
export interface ColourJitter {
  gain: [number, number, number];
  brightness: number;
  contrast: number;
  saturation: number;
}

/** What to do to one frame; absent fields are not applied. */
export interface FrameAugment {
  warp?: LandmarkWarp;
  flip?: boolean;
  jitter?: SimilarityJitter;
  colour?: ColourJitter;
}

/**
 * One frame (uint8 RGB, size x size) and its landmarks through the augmentations, in this order:
 * warp, flip, similarity jitter (geometry: one bilinear resampling, edges replicated), then colour.
 * Returns the new frame and landmarks.
 */
export function augmentFrame(
  rgb: Uint8Array,
  lm: ArrayLike<number>,
  size: number,
  a: FrameAugment,
): { rgb: Uint8Array; landmarks: Float32Array } {
  let landmarks: Float32Array = Float32Array.from(a.warp ? a.warp.landmarks : lm);
  if (a.flip) landmarks = flipLandmarks(landmarks, size);
  if (a.jitter) {
    for (let i = 0; i < N; i++) {
      const [x, y] = jitterPoint(a.jitter, size, landmarks[2 * i]!, landmarks[2 * i + 1]!);
      landmarks[2 * i] = x;
      landmarks[2 * i + 1] = y;
    }
  }
  let out = rgb;
  if (a.warp || a.flip || a.jitter) {
    out = new Uint8Array(rgb.length);
    for (let oy = 0; oy < size; oy++) {
      for (let ox = 0; ox < size; ox++) {
        let x = ox + 0.5;
        let y = oy + 0.5;
        if (a.jitter) [x, y] = unjitterPoint(a.jitter, size, x, y);
        if (a.flip) x = size - x;
        if (a.warp) [x, y] = a.warp.inverse.map(x, y);
        sampleBilinear(rgb, size, x - 0.5, y - 0.5, out, (oy * size + ox) * 3);
      }
    }
  }
  if (a.colour) out = colourJitter(out === rgb ? Uint8Array.from(rgb) : out, a.colour);
  return { rgb: out, landmarks };
}

/**
 * Bilinear sample at pixel-index coordinates (x, y) (pixel centres at integers), edges replicated,
 * into out[o..o+2]. Shared by the augmentations and the source warp (source_warp.ts).
 */
export function sampleBilinear(
  rgb: Uint8Array,
  size: number,
  x: number,
  y: number,
  out: Uint8Array,
  o: number,
): void {
  const hi = size - 1;
  const xc = x < 0 ? 0 : x > hi ? hi : x;
  const yc = y < 0 ? 0 : y > hi ? hi : y;
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(hi, x0 + 1);
  const y1 = Math.min(hi, y0 + 1);
  const fx = xc - x0;
  const fy = yc - y0;
  for (let c = 0; c < 3; c++) {
    const v00 = rgb[(y0 * size + x0) * 3 + c]!;
    const v10 = rgb[(y0 * size + x1) * 3 + c]!;
    const v01 = rgb[(y1 * size + x0) * 3 + c]!;
    const v11 = rgb[(y1 * size + x1) * 3 + c]!;
    out[o + c] = (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy + 0.5;
  }
}

/** Colour jitter in place (uint8 RGB). */
export function colourJitter(rgb: Uint8Array, j: ColourJitter): Uint8Array {
  let mean = 0;
  for (let i = 0; i < rgb.length; i++) mean += rgb[i]! * j.gain[i % 3]!;
  mean /= rgb.length;
  for (let p = 0; p < rgb.length; p += 3) {
    const v = [0, 1, 2].map((c) => mean + j.contrast * (rgb[p + c]! * j.gain[c]! + j.brightness - mean));
    const grey = 0.299 * v[0]! + 0.587 * v[1]! + 0.114 * v[2]!;
    for (let c = 0; c < 3; c++) {
      const s = grey + j.saturation * (v[c]! - grey);
      rgb[p + c] = s < 0 ? 0 : s > 255 ? 255 : Math.round(s);
    }
  }
  return rgb;
}
