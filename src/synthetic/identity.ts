/**
 * Identity parameters of a procedural talking head: face shape, feature sizes and placement,
 * colours, hair, glasses, beard, background and lighting. Deterministic per (seed, identity index).
 * Angles (u, v) are positions on the head surface: u is azimuth (0 faces the camera, negative on the
 * image's left), v is elevation (0 at eye level-ish, negative downwards). See head.ts.
 */
import { hashSeed, Rng } from '../engine/rng.js';

export type RGB = [number, number, number];
export type HairStyle = 'short' | 'long' | 'fringe' | 'bald' | 'bob';
export type Beard = 'none' | 'stubble' | 'full' | 'mustache';

export interface Identity {
  index: number;
  // head shape (ellipsoid radii, head-height units)
  width: number;
  height: number;
  depth: number;
  jawTaper: number;
  chin: number;
  cheek: number;
  // features
  eyeU: number;
  eyeV: number;
  eyeW: number;
  eyeH: number;
  eyeTilt: number;
  irisR: number;
  browV: number;
  browW: number;
  browThick: number;
  browArch: number;
  noseLen: number;
  noseW: number;
  noseV: number;
  mouthV: number;
  mouthW: number;
  lipUpper: number;
  lipLower: number;
  chinV: number;
  jawU: number;
  // colours (0..1)
  skin: RGB;
  lip: RGB;
  hair: RGB;
  iris: RGB;
  background: [RGB, RGB];
  clothes: RGB;
  hairStyle: HairStyle;
  hairline: number;
  hairVolume: number;
  glasses: RGB | null;
  beard: Beard;
  // light direction (unit, head space before rotation), ambient and key strength
  light: [number, number, number];
  ambient: number;
  key: number;
  /** seed of the identity's texture noise */
  noiseSeed: number;
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
const mix = (a: RGB, b: RGB, t: number): RGB => [
  lerp(a[0], b[0], t),
  lerp(a[1], b[1], t),
  lerp(a[2], b[2], t),
];
const rgb = (r: number, g: number, b: number): RGB => [r / 255, g / 255, b / 255];

const SKIN_LIGHT = rgb(250, 218, 190);
const SKIN_MID = rgb(205, 150, 112);
const SKIN_DARK = rgb(95, 60, 42);
const HAIR = [
  rgb(25, 20, 18),
  rgb(60, 40, 28),
  rgb(110, 75, 45),
  rgb(200, 165, 100),
  rgb(150, 60, 30),
  rgb(150, 150, 150),
  rgb(235, 225, 200),
];
const IRIS = [rgb(85, 55, 30), rgb(60, 110, 170), rgb(80, 120, 70), rgb(110, 115, 120), rgb(120, 90, 50)];
const STYLES: HairStyle[] = ['short', 'long', 'fringe', 'bald', 'bob', 'short', 'long'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

function randomColor(rng: Rng, lo: number, hi: number): RGB {
  return [lerp(lo, hi, rng.next()), lerp(lo, hi, rng.next()), lerp(lo, hi, rng.next())];
}

export function identityParams(seed: number, index: number): Identity {
  if (!Number.isInteger(index) || index < 0)
    throw new RangeError(`identity index must be a non-negative integer, got ${index}`);
  const r = new Rng(hashSeed(seed, index, 0x1d));
  const u = (a: number, b: number) => lerp(a, b, r.next());
  const tone = r.next();
  const skinBase =
    tone < 0.5 ? mix(SKIN_LIGHT, SKIN_MID, tone * 2) : mix(SKIN_MID, SKIN_DARK, (tone - 0.5) * 2);
  const skin: RGB = [skinBase[0] * u(0.95, 1.05), skinBase[1] * u(0.95, 1.03), skinBase[2] * u(0.93, 1.05)];
  const hairStyle = pick(r, STYLES);
  const beardRoll = r.next();
  const bgA = randomColor(r, 0.1, 0.9);
  return {
    index,
    width: u(0.78, 0.92),
    height: u(1.0, 1.12),
    depth: u(0.88, 0.98),
    jawTaper: u(0.1, 0.35),
    chin: u(0.02, 0.1),
    cheek: u(0.0, 0.06),
    eyeU: u(0.29, 0.37),
    eyeV: u(0.08, 0.14),
    eyeW: u(0.11, 0.135),
    eyeH: u(0.048, 0.062),
    eyeTilt: u(-0.1, 0.15),
    irisR: u(0.04, 0.048),
    browV: u(0.11, 0.16),
    browW: u(0.12, 0.15),
    browThick: u(0.012, 0.026),
    browArch: u(0.0, 0.035),
    noseLen: u(0.14, 0.28),
    noseW: u(0.07, 0.1),
    noseV: u(-0.2, -0.14),
    mouthV: u(-0.47, -0.4),
    mouthW: u(0.19, 0.25),
    lipUpper: u(0.026, 0.04),
    lipLower: u(0.032, 0.05),
    chinV: u(-0.86, -0.74),
    jawU: u(1.18, 1.32),
    skin,
    lip: mix(skin, rgb(165, 45, 60), u(0.45, 0.75)),
    hair: pick(r, HAIR),
    iris: pick(r, IRIS),
    background: [bgA, mix(bgA, randomColor(r, 0, 1), u(0.3, 0.8))],
    clothes: randomColor(r, 0.05, 0.85),
    hairStyle,
    hairline: hairStyle === 'fringe' ? u(0.3, 0.38) : hairStyle === 'bald' ? u(0.9, 1.1) : u(0.46, 0.6),
    hairVolume: hairStyle === 'bald' ? 0 : u(0.04, 0.12),
    glasses: r.next() < 0.25 ? randomColor(r, 0.02, 0.6) : null,
    beard: beardRoll < 0.62 ? 'none' : beardRoll < 0.76 ? 'stubble' : beardRoll < 0.9 ? 'full' : 'mustache',
    light: normalize([u(-0.8, 0.8), u(0.1, 0.8), u(0.6, 1.0)]),
    ambient: u(0.35, 0.5),
    key: u(0.55, 0.75),
    noiseSeed: hashSeed(seed, index, 0x7e),
  };
}

function normalize(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}
