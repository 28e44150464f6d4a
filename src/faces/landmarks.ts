/**
 * The 68-point facial landmark scheme (iBUG 300-W / dlib order) and the landmark image y of the
 * paper (Zakharov et al. 2019, sec. 3.1): landmarks drawn as coloured polylines on black, one colour
 * per face part, eyes and lips closed. Coordinates are continuous pixel coordinates: pixel (row i,
 * column j) covers [j, j+1) x [i, i+1), so its centre is (j + 0.5, i + 0.5).
 */

export const NUM_LANDMARKS = 68;
/** Numbers in one landmark set: x and y of each point, (x0, y0, x1, y1, ...). */
export const LANDMARK_VALUES = NUM_LANDMARKS * 2;

/** The i-th landmark set of a track of sets one after another (a view, not a copy). */
export function landmarkSet<A extends { subarray(begin: number, end: number): A }>(track: A, i: number): A {
  return track.subarray(i * LANDMARK_VALUES, (i + 1) * LANDMARK_VALUES);
}

export interface FacePart {
  name: string;
  /** first and last index, inclusive */
  from: number;
  to: number;
  closed: boolean;
  /** RGB 0..255 */
  color: readonly [number, number, number];
}

// Colours: distinct hues so the generator can tell the parts apart (docs/design.md sec. 2).
export const FACE_PARTS: readonly FacePart[] = [
  { name: 'jaw', from: 0, to: 16, closed: false, color: [255, 255, 255] },
  { name: 'right_brow', from: 17, to: 21, closed: false, color: [255, 140, 0] },
  { name: 'left_brow', from: 22, to: 26, closed: false, color: [255, 215, 0] },
  { name: 'nose_bridge', from: 27, to: 30, closed: false, color: [0, 90, 255] },
  { name: 'lower_nose', from: 31, to: 35, closed: false, color: [0, 200, 255] },
  { name: 'right_eye', from: 36, to: 41, closed: true, color: [0, 220, 60] },
  { name: 'left_eye', from: 42, to: 47, closed: true, color: [150, 255, 60] },
  { name: 'outer_lip', from: 48, to: 59, closed: true, color: [255, 0, 60] },
  { name: 'inner_lip', from: 60, to: 67, closed: true, color: [255, 0, 255] },
];

/** Line width in pixels for an image of `size` pixels: 2px at 256px (docs/design.md sec. 2), at least 1. */
export function lineWidthFor(size: number): number {
  return Math.max(1, (2 * size) / 256);
}

/** Validates a landmark array: 136 finite numbers (x0, y0, x1, y1, ...). */
/** Landmark sets (136 numbers each) one after another: [frames * 136], as tracks and neutralShape take them. */
export function stackLandmarks(frames: readonly ArrayLike<number>[]): Float32Array {
  const all = new Float32Array(frames.length * 2 * NUM_LANDMARKS);
  frames.forEach((f, i) => all.set(f, i * 2 * NUM_LANDMARKS));
  return all;
}

export function checkLandmarks(points: ArrayLike<number>, what = 'landmarks'): void {
  if (points.length !== NUM_LANDMARKS * 2) {
    throw new RangeError(
      `${what}: expected ${NUM_LANDMARKS * 2} numbers (68 x,y pairs), got ${points.length}`,
    );
  }
  for (let i = 0; i < points.length; i++) {
    if (!Number.isFinite(points[i]!)) {
      throw new RangeError(
        `${what}: landmark ${i >> 1} has a non-finite ${i % 2 ? 'y' : 'x'} (${points[i]})`,
      );
    }
  }
}

/**
 * Draws an anti-aliased segment of width `w` into a coverage-per-colour image: each pixel takes the
 * maximum of its current value and colour x coverage, where coverage falls off linearly over one
 * pixel at the stroke's edge (distance from pixel centre to the segment).
 */
function drawSegment(
  out: Uint8Array,
  size: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
  w: number,
  color: readonly [number, number, number],
): void {
  const r = w / 2;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r - 1));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + r + 1));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r - 1));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + r + 1));
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = px - (ax + t * dx);
      const ey = py - (ay + t * dy);
      const d = Math.sqrt(ex * ex + ey * ey);
      const cov = r + 0.5 - d;
      if (cov <= 0) continue;
      const c = cov >= 1 ? 1 : cov;
      const o = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) {
        const v = Math.round(color[k]! * c);
        if (v > out[o + k]!) out[o + k] = v;
      }
    }
  }
}

/**
 * A polygon of landmarks (points first .. first + n - 1, in ring order) as a [size x size] mask in
 * {0, 1} written into `out` at `offset`: pixels whose centre is inside it or within `margin` pixels
 * of its outline (margin 0: inside only).
 */
function polygonMask(
  points: ArrayLike<number>,
  first: number,
  n: number,
  margin: number,
  size: number,
  out: Float32Array,
  offset: number,
): Float32Array {
  checkLandmarks(points);
  const xs = Array.from({ length: n }, (_, i) => points[2 * (first + i)]!);
  const ys = Array.from({ length: n }, (_, i) => points[2 * (first + i) + 1]!);
  const inside = (x: number, y: number) => {
    let odd = false;
    for (let i = 0, j = n - 1; i < n; j = i++)
      if (ys[i]! > y !== ys[j]! > y && x < ((xs[j]! - xs[i]!) * (y - ys[i]!)) / (ys[j]! - ys[i]!) + xs[i]!)
        odd = !odd;
    return odd;
  };
  const nearEdge = (x: number, y: number) => {
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const dx = xs[i]! - xs[j]!;
      const dy = ys[i]! - ys[j]!;
      const t = Math.max(0, Math.min(1, ((x - xs[j]!) * dx + (y - ys[j]!) * dy) / (dx * dx + dy * dy || 1)));
      if (Math.hypot(x - xs[j]! - t * dx, y - ys[j]! - t * dy) <= margin) return true;
    }
    return false;
  };
  const x0 = Math.max(0, Math.floor(Math.min(...xs) - margin));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(...xs) + margin));
  const y0 = Math.max(0, Math.floor(Math.min(...ys) - margin));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(...ys) + margin));
  out.fill(0, offset, offset + size * size);
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++)
      if (inside(x + 0.5, y + 0.5) || (margin > 0 && nearEdge(x + 0.5, y + 0.5)))
        out[offset + y * size + x] = 1;
  return out;
}

/**
 * The mouth region of a face, [size x size] in {0, 1} written into `out` at `offset`: inside the
 * outer lip (points 48-59) or within `size / 64` pixels of it. What the mouth-region loss weighs
 * (train/losses.ts mouthL1): teeth and a smile's lips are a few percent of a frame's pixels.
 */
export function mouthMask(
  points: ArrayLike<number>,
  size: number,
  out: Float32Array = new Float32Array(size * size),
  offset = 0,
): Float32Array {
  return polygonMask(points, 48, 12, size / 64, size, out, offset);
}

/**
 * The landmark image: [size, size, 3] uint8 RGB, black background. `points` are 68 (x, y) pairs in
 * pixel coordinates of this image. Returns `out` (allocated when omitted; cleared either way).
 */
export function rasterizeLandmarks(
  points: ArrayLike<number>,
  size: number,
  out: Uint8Array = new Uint8Array(size * size * 3),
  width = lineWidthFor(size),
): Uint8Array {
  checkLandmarks(points);
  if (out.length !== size * size * 3)
    throw new RangeError(`rasterizeLandmarks: output buffer must be ${size}x${size}x3`);
  out.fill(0);
  for (const part of FACE_PARTS) {
    const last = part.closed ? part.to + 1 : part.to;
    for (let i = part.from; i < last; i++) {
      const j = i === part.to ? part.from : i + 1;
      drawSegment(
        out,
        size,
        points[2 * i]!,
        points[2 * i + 1]!,
        points[2 * j]!,
        points[2 * j + 1]!,
        width,
        part.color,
      );
    }
  }
  return out;
}

/** Bounding box [minX, minY, maxX, maxY] of the landmarks. */
export function landmarkBox(points: ArrayLike<number>): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const x = points[2 * i]!;
    const y = points[2 * i + 1]!;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/** Centroid and size (RMS distance to the centroid) of 68 points. */
export function centroidScale(p: ArrayLike<number>): { cx: number; cy: number; size: number } {
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    cx += p[2 * i]!;
    cy += p[2 * i + 1]!;
  }
  cx /= NUM_LANDMARKS;
  cy /= NUM_LANDMARKS;
  let ss = 0;
  for (let i = 0; i < NUM_LANDMARKS; i++) ss += (p[2 * i]! - cx) ** 2 + (p[2 * i + 1]! - cy) ** 2;
  return { cx, cy, size: Math.sqrt(ss / NUM_LANDMARKS) || 1 };
}

/** The similarity (scale s, rotation angle, translation) that maps `from` best onto `to` (least squares). */
export interface Similarity {
  s: number;
  cos: number;
  sin: number;
  /** centroids: apply as to_c + s R (p - from_c) */
  from: { cx: number; cy: number; size: number };
  to: { cx: number; cy: number; size: number };
}

export function align(from: ArrayLike<number>, to: ArrayLike<number>): Similarity {
  const a = centroidScale(from);
  const b = centroidScale(to);
  let sxx = 0; // sum of dot products
  let sxy = 0; // sum of cross products
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const ax = from[2 * i]! - a.cx;
    const ay = from[2 * i + 1]! - a.cy;
    const bx = to[2 * i]! - b.cx;
    const by = to[2 * i + 1]! - b.cy;
    sxx += ax * bx + ay * by;
    sxy += ax * by - ay * bx;
  }
  const r = Math.hypot(sxx, sxy) || 1;
  // Procrustes: s = sum|a b| / sum|a|^2, angle = atan2(cross, dot)
  return { s: r / (NUM_LANDMARKS * a.size * a.size), cos: sxx / r, sin: sxy / r, from: a, to: b };
}

export function applySimilarity(
  t: Similarity,
  p: ArrayLike<number>,
  out = new Float32Array(2 * NUM_LANDMARKS),
): Float32Array {
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const x = p[2 * i]! - t.from.cx;
    const y = p[2 * i + 1]! - t.from.cy;
    out[2 * i] = t.to.cx + t.s * (t.cos * x - t.sin * y);
    out[2 * i + 1] = t.to.cy + t.s * (t.sin * x + t.cos * y);
  }
  return out;
}

/**
 * The inside of the mouth (inside the inner lip, points 60-67, or within `margin` pixels of it),
 * [size x size] in {0, 1}: where an open mouth shows teeth and dark, which no warp of a closed
 * mouth can show.
 */
export function innerMouthMask(points: ArrayLike<number>, size: number, margin = size / 128): Float32Array {
  return polygonMask(points, 60, 8, margin, size, new Float32Array(size * size), 0);
}
