/**
 * Temporal smoothing of landmark tracks with the One Euro filter (Casiez, Roussel and Vogel, "1€
 * Filter: A Simple Speed-based Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012):
 * an exponential low-pass whose cutoff rises with the signal's speed, so a still face loses its
 * jitter while a speaking mouth keeps its movement and timing (a fixed low-pass removing as much
 * jitter flattens the lips' 4 Hz movement to 60% and delays it; smooth.test.ts measures both).
 *
 * Coordinates are filtered in units of the face size (the caller passes it), so one setting serves a
 * face of 60 pixels and one of 600.
 */

export interface OneEuroParams {
  /** cutoff (Hz) at rest: lower removes more jitter from a still face */
  minCutoff: number;
  /** cutoff increase per unit of speed (face sizes per second): higher lets fast motion through */
  beta: number;
  /** cutoff (Hz) of the speed estimate itself */
  dCutoff: number;
}

/**
 * Chosen on smooth.test.ts's tracks (25 fps, 1.5 px jitter on a 200 px face) by a sweep: jitter at
 * rest down to 0.6x; a 4 Hz mouth movement 12% of the face wide keeps 91% of its amplitude and lags
 * a third of a frame. An exponential low-pass removing as much jitter keeps 60% and lags half a frame.
 */
export const DEFAULT_ONE_EURO: OneEuroParams = { minCutoff: 1, beta: 25, dCutoff: 2 };

const alpha = (cutoff: number, dt: number) => {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
};

/** One Euro filter over a vector (all 136 landmark coordinates at once, each with its own state). */
export class OneEuroFilter {
  private x: Float64Array | null = null;
  private dx: Float64Array | null = null;
  private t = 0;

  constructor(private readonly p: OneEuroParams = DEFAULT_ONE_EURO) {}

  reset(): void {
    this.x = null;
    this.dx = null;
  }

  /** Filters `v` observed at time `t` (seconds); `scale` is the face size in v's units. */
  filter(v: ArrayLike<number>, t: number, scale: number): Float32Array {
    const n = v.length;
    const out = new Float32Array(n);
    if (!this.x || !this.dx || !(t > this.t) || this.x.length !== n) {
      this.x = Float64Array.from(v);
      this.dx = new Float64Array(n);
      this.t = t;
      out.set(this.x);
      return out;
    }
    const dt = t - this.t;
    this.t = t;
    const ad = alpha(this.p.dCutoff, dt);
    for (let i = 0; i < n; i++) {
      const speed = (v[i]! - this.x[i]!) / dt;
      this.dx[i] = this.dx[i]! + ad * (speed - this.dx[i]!);
      const cutoff = this.p.minCutoff + (this.p.beta * Math.abs(this.dx[i]!)) / scale;
      const a = alpha(cutoff, dt);
      this.x[i] = this.x[i]! + a * (v[i]! - this.x[i]!);
      out[i] = this.x[i]!;
    }
    return out;
  }
}
