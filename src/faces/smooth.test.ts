// One Euro smoothing (smooth.ts) on synthetic landmark tracks: jitter on a still face goes down, a
// speaking mouth keeps its amplitude and timing; a fixed exponential low-pass that removes as much
// jitter loses 40% of the mouth's movement and lags it more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../engine/rng.js';
import { DEFAULT_ONE_EURO, OneEuroFilter } from './smooth.js';

const FPS = 25;
const FACE = 200; // face size, pixels
const NOISE = 1.5; // landmark jitter, pixels

/** One coordinate over 10 s: `signal(t)` plus Gaussian jitter, through `filter`. */
function run(filter: (v: number, t: number) => number, signal: (t: number) => number) {
  const rng = new Rng(5);
  const out: number[] = [];
  const clean: number[] = [];
  for (let i = 0; i < 10 * FPS; i++) {
    const t = i / FPS;
    clean.push(signal(t));
    out.push(filter(signal(t) + NOISE * rng.normal(), t));
  }
  return { out, clean };
}

const oneEuro = () => {
  const f = new OneEuroFilter(DEFAULT_ONE_EURO);
  return (v: number, t: number) => f.filter([v], t, FACE)[0]!;
};
const lowPass = (a: number) => {
  let s: number | null = null;
  return (v: number) => (s = s === null ? v : s + a * (v - s));
};

const rms = (xs: number[], ys: number[]) =>
  Math.sqrt(xs.reduce((s, x, i) => s + (x - ys[i]!) ** 2, 0) / xs.length);

/** Jitter left on a still face, as a fraction of the input's. */
function jitterKept(filter: (v: number, t: number) => number): number {
  const still = () => 0;
  const raw = run((v) => v, still);
  const r = run(filter, still);
  return rms(r.out.slice(10), r.clean.slice(10)) / rms(raw.out.slice(10), raw.clean.slice(10));
}

/** Amplitude and lag (frames, sub-frame) of the f Hz sinusoid fitted to xs (after a settling second). */
function fitSine(xs: number[], f: number): { amplitude: number; lag: number } {
  let a = 0;
  let b = 0;
  for (let i = FPS; i < xs.length; i++) {
    const w = 2 * Math.PI * f * (i / FPS);
    a += xs[i]! * Math.sin(w);
    b += xs[i]! * Math.cos(w);
  }
  const n = (xs.length - FPS) / 2;
  // x ~ A sin(w t - phi) = A cos(phi) sin(w t) - A sin(phi) cos(w t)
  const phi = Math.atan2(-b / n, a / n);
  return { amplitude: Math.hypot(a, b) / n, lag: (phi / (2 * Math.PI * f)) * FPS };
}

test('a still face: One Euro removes ~40% of the jitter', () => {
  const kept = jitterKept(oneEuro());
  assert.ok(kept < 0.65, `jitter kept: ${(100 * kept).toFixed(0)}%`);
});

test('a speaking mouth (4 Hz, 12% of the face): One Euro keeps it; a low-pass as smooth does not', () => {
  const amp = 0.06 * FACE;
  const mouth = (t: number) => amp * Math.sin(2 * Math.PI * 4 * t);
  const euro = fitSine(run(oneEuro(), mouth).out, 4);
  assert.ok(euro.lag < 0.5, `One Euro lags the mouth by ${euro.lag.toFixed(2)} frames`);
  assert.ok(
    euro.amplitude > 0.88 * amp,
    `mouth amplitude kept ${((100 * euro.amplitude) / amp).toFixed(0)}%`,
  );
  // the exponential low-pass that removes as much jitter from a still face
  const target = jitterKept(oneEuro());
  let a = 1;
  while (a > 0.05 && jitterKept(lowPass(a)) > target) a *= 0.95;
  const lp = fitSine(run(lowPass(a), mouth).out, 4);
  assert.ok(lp.lag > euro.lag, `low-pass (alpha ${a.toFixed(2)}) lags ${lp.lag.toFixed(2)} frames`);
  assert.ok(lp.amplitude < 0.7 * amp, `low-pass keeps ${((100 * lp.amplitude) / amp).toFixed(0)}%`);
});

test('reset starts over; the first value passes unchanged', () => {
  const f = new OneEuroFilter();
  assert.deepEqual(Array.from(f.filter([5, 7], 0, 10)), [5, 7]);
  f.filter([6, 8], 0.04, 10);
  f.reset();
  assert.deepEqual(Array.from(f.filter([1, 2], 0.08, 10)), [1, 2]);
});
