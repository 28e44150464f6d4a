/**
 * Landmark retargeting (beyond the paper: sec. 5 names identity leak from a foreign driver as the
 * main limitation of puppeteering). Raw landmarks of another person carry that person's face shape
 * into the output; here only their motion is kept:
 *
 *   1. each face's neutral shape: the similarity-aligned mean of its frames (the target's T frames;
 *      the driver's first frames);
 *   2. a driver frame F is aligned onto the driver's neutral shape D by a similarity transform
 *      (scale s, rotation R, translation): the head pose. What remains, (aligned F - D) / size(D),
 *      is the expression, relative to the face's size;
 *   3. the target frame is the target's neutral shape T plus that expression at the target's size,
 *      put in the driver's pose relative to its neutral one (rotation, scale change and the
 *      centroid's move, measured in face sizes).
 *
 * A driver frame equal to its neutral shape gives exactly the target's neutral shape; distances
 * within the output are the target's, moved as the driver moves.
 */
import { align, applySimilarity, centroidScale, NUM_LANDMARKS, type Similarity } from './landmarks.js';

const N = NUM_LANDMARKS;

/**
 * The neutral shape of a set of frames (`frames` x 136): generalised Procrustes (each aligned to
 * the running mean, twice), placed at the frames' mean centroid, size and angle relative to the first.
 */
export function neutralShape(all: Float32Array, frames: number): Float32Array {
  if (frames < 1) throw new RangeError('neutralShape: no frames');
  const get = (f: number) => all.subarray(f * 2 * N, (f + 1) * 2 * N);
  let mean = Float32Array.from(get(0));
  for (let iter = 0; iter < 2; iter++) {
    const acc = new Float64Array(2 * N);
    for (let f = 0; f < frames; f++) {
      const a = applySimilarity(align(get(f), mean), get(f));
      for (let k = 0; k < 2 * N; k++) acc[k]! += a[k]!;
    }
    mean = Float32Array.from(acc, (v) => v / frames);
  }
  // Put it where the frames are on average: mean centroid and size, mean angle from `mean`.
  let cx = 0;
  let cy = 0;
  let size = 0;
  let c = 0;
  let s = 0;
  for (let f = 0; f < frames; f++) {
    const t = align(mean, get(f));
    cx += t.to.cx;
    cy += t.to.cy;
    size += t.to.size;
    c += t.cos;
    s += t.sin;
  }
  const m = centroidScale(mean);
  const r = Math.hypot(c, s) || 1;
  const place: Similarity = {
    s: size / frames / m.size,
    cos: c / r,
    sin: s / r,
    from: m,
    to: { cx: cx / frames, cy: cy / frames, size: size / frames },
  };
  return applySimilarity(place, mean);
}

/** Maps driver frames onto a target's face geometry (one instance per driver). */
export class Retargeter {
  private readonly target: { cx: number; cy: number; size: number };
  private readonly driver: { cx: number; cy: number; size: number };
  /** driver neutral -> target neutral: the faces' relative in-plane rotation */
  private readonly between: Similarity;

  constructor(
    readonly targetNeutral: Float32Array,
    readonly driverNeutral: Float32Array,
  ) {
    this.target = centroidScale(targetNeutral);
    this.driver = centroidScale(driverNeutral);
    this.between = align(driverNeutral, targetNeutral);
  }

  map(frame: ArrayLike<number>, out = new Float32Array(2 * N)): Float32Array {
    // pose: frame -> driver neutral; its inverse is the driver's pose relative to neutral
    const t = align(frame, this.driverNeutral);
    const aligned = applySimilarity(t, frame);
    const T = this.targetNeutral;
    const D = this.driverNeutral;
    // expression offsets live in the driver's neutral frame: scale and turn them into the target's
    // (sizes: the RMS radius ratio, so expressions and moves are the same in face sizes)
    const k = this.target.size / this.driver.size;
    const { cos: bc, sin: bs } = this.between;
    // the frame's centroid moved from the neutral one, in target pixels (image axes: right is right)
    const f = centroidScale(frame);
    const mx = this.target.cx + (f.cx - this.driver.cx) * k;
    const my = this.target.cy + (f.cy - this.driver.cy) * k;
    const inv = 1 / t.s; // the frame's scale relative to neutral
    for (let i = 0; i < N; i++) {
      const ex = aligned[2 * i]! - D[2 * i]!;
      const ey = aligned[2 * i + 1]! - D[2 * i + 1]!;
      // the expression on the target's neutral shape, about its centroid
      const qx = T[2 * i]! - this.target.cx + k * (bc * ex - bs * ey);
      const qy = T[2 * i + 1]! - this.target.cy + k * (bs * ex + bc * ey);
      // the driver's pose: rotation R^T (inverse of the alignment) and scale 1/s
      out[2 * i] = mx + inv * (t.cos * qx + t.sin * qy);
      out[2 * i + 1] = my + inv * (-t.sin * qx + t.cos * qy);
    }
    return out;
  }
}
