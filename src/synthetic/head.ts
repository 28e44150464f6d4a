/**
 * The procedural head: one parametric surface P(u, v) (an ellipsoid deformed by jaw, chin, cheeks,
 * nose and the hair volume) and one texture defined on the same (u, v): skin, hair, brows, eyes with
 * lids and irises, lips, mouth cavity and teeth, nostrils, beard. The 68 landmarks are fixed (u, v)
 * positions on the painted features, mapped through the same P(u, v), so the landmark image matches
 * the rendered face exactly (up to the mesh resolution).
 *
 * u: azimuth, 0 faces the camera, negative towards the image's left (the subject's right).
 * v: elevation, positive upwards. Head coordinates: x right, y up, z towards the camera.
 */
import type { FrameParams } from './motion.js';
import type { Identity, RGB } from './identity.js';
import { Rng } from '../engine/rng.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';

const smoothstep = (e0: number, e1: number, x: number) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

/** Value noise on a periodic grid: cheap texture detail. */
class Noise {
  private readonly g: Float32Array;
  private readonly mask: number;
  constructor(
    seed: number,
    private readonly n = 64,
  ) {
    if (n & (n - 1)) throw new RangeError('Noise grid size must be a power of two');
    const r = new Rng(seed);
    this.g = r.uniformArray(n * n, -1, 1);
    this.mask = n - 1;
  }
  /** x, y in grid cells (any real), bilinear, periodic */
  at(x: number, y: number): number {
    const n = this.n;
    const xf = Math.floor(x);
    const yf = Math.floor(y);
    const fx = x - xf;
    const fy = y - yf;
    const m = this.mask;
    const x0 = xf & m;
    const y0 = yf & m;
    const x1 = (x0 + 1) & m;
    const y1 = (y0 + 1) & m;
    const g = this.g;
    const a = g[y0 * n + x0]! + (g[y0 * n + x1]! - g[y0 * n + x0]!) * fx;
    const b = g[y1 * n + x0]! + (g[y1 * n + x1]! - g[y1 * n + x0]!) * fx;
    return a + (b - a) * fy;
  }
}

/** What a head pixel shows (for alignment tests and masks). */
export const enum Label {
  Skin = 1,
  Hair = 2,
  Brow = 3,
  Sclera = 4,
  Iris = 5,
  Lip = 6,
  Mouth = 7,
  Nostril = 8,
  Beard = 9,
  Neck = 10,
  Body = 11,
}

export interface Shaded {
  r: number;
  g: number;
  b: number;
  /** specular strength */
  spec: number;
  label: number;
}

export class Head {
  readonly id: Identity;
  readonly f: FrameParams;
  private readonly noise: Noise;
  // derived per frame
  private readonly mouthW: number;
  private readonly smileLift: number;
  private readonly gap: number;
  private readonly eyeOpen: number;
  private readonly browV: number;
  private readonly jawDrop: number;

  constructor(id: Identity, f: FrameParams, noise?: Noise) {
    this.id = id;
    this.f = f;
    this.noise = noise ?? new Noise(id.noiseSeed);
    this.mouthW = id.mouthW * (1 + 0.14 * f.smile - 0.1 * f.mouthOpen);
    this.smileLift = 0.045 * f.smile;
    this.gap = f.mouthOpen * 0.16;
    this.eyeOpen = Math.max(0, 1 - f.blink) * (1 + 0.15 * f.browRaise - 0.15 * f.smile);
    this.browV = id.eyeV + id.browV + 0.045 * f.browRaise;
    this.jawDrop = f.mouthOpen * 0.09;
  }

  /** Head volume: hair adds thickness above the hairline and at the back. */
  private hairAmount(u: number, v: number): number {
    const id = this.id;
    if (id.hairStyle === 'bald') return 0;
    const au = Math.abs(u);
    const front = smoothstep(id.hairline - 0.05, id.hairline + 0.08, v + 0.12 * (au / 1.2) ** 2);
    const sideLow = id.hairStyle === 'long' || id.hairStyle === 'bob' ? -0.45 : -0.05;
    const side = smoothstep(1.15, 1.5, au) * smoothstep(sideLow - 0.1, sideLow + 0.15, v);
    return Math.max(front, side);
  }

  /** P(u, v) in head coordinates; writes into out[o..o+2]. */
  surface(u: number, v: number, out: Float32Array | Float64Array, o = 0): void {
    const id = this.id;
    const cu = Math.cos(u);
    const su = Math.sin(u);
    const cv = Math.cos(v);
    const sv = Math.sin(v);
    const lower = smoothstep(-0.15, -1.1, v);
    const rx = id.width * (1 - id.jawTaper * lower * (0.6 + 0.4 * Math.abs(su)));
    let x = rx * su * cv;
    let y = id.height * sv;
    let z = id.depth * cu * cv;
    if (cu > 0) {
      // nose: a ridge down the middle that grows into the tip
      const du = u / id.noseW;
      const ridge =
        Math.exp(-du * du * 2.2) *
        smoothstep(id.eyeV + 0.02, id.noseV, v) *
        smoothstep(id.noseV - 0.1, id.noseV - 0.02, v);
      const tip = Math.exp(-(du * du) - ((v - id.noseV) / 0.05) ** 2);
      z += id.noseLen * (0.45 * ridge + 0.55 * tip) * cu;
      // chin and cheeks
      z += id.chin * Math.exp(-((u / 0.35) ** 2) - ((v - id.chinV - 0.08) / 0.15) ** 2);
      const cheekU = Math.abs(u) - 0.5;
      z += (id.cheek + 0.03 * this.f.smile) * Math.exp(-((cheekU / 0.22) ** 2) - ((v + 0.22) / 0.15) ** 2);
      // eye sockets
      for (let s = -1; s <= 1; s += 2) {
        const e = ((u - s * id.eyeU) / 0.16) ** 2 + ((v - id.eyeV) / 0.1) ** 2;
        z -= 0.035 * Math.exp(-e);
      }
    }
    // jaw drop below the mouth when it opens
    const drop =
      this.jawDrop * smoothstep(id.mouthV, id.mouthV - 0.12, v) * smoothstep(1.6, 0.6, Math.abs(u));
    y -= drop;
    z -= drop * 0.3;
    const h = this.hairAmount(u, v) * id.hairVolume;
    if (h > 0) {
      const k = 1 + h;
      x *= k;
      y = y * k + (y > 0 ? h * 0.3 : 0);
      z *= k;
    }
    out[o] = x;
    out[o + 1] = y;
    out[o + 2] = z;
  }

  // ---- feature curves in (u, v) ----

  private mouthCenter(x: number): number {
    return this.id.mouthV + this.smileLift * x * x - 0.01 * this.f.mouthOpen;
  }
  // Curve evaluations write into these (no allocation per pixel).
  private lipOU = 0;
  private lipIU = 0;
  private lipIL = 0;
  private lipOL = 0;
  private eyeUp = 0;
  private eyeLo = 0;

  /** Outer upper, inner upper, inner lower, outer lower lip curves at x in [-1, 1]. */
  private lipCurves(x: number): void {
    const id = this.id;
    const q = Math.max(0, 1 - x * x);
    const s = Math.sqrt(q);
    const c = this.mouthCenter(x);
    const g = this.gap * Math.pow(q, 0.8);
    const iu = c + 0.3 * g;
    const il = c - 0.7 * g;
    const bow = 1 - 0.25 * Math.exp(-((x / 0.18) ** 2));
    this.lipOU = iu + id.lipUpper * s * bow;
    this.lipIU = iu;
    this.lipIL = il;
    this.lipOL = il - id.lipLower * s;
  }
  /** Upper and lower lid curves at x in [-1, 1]. */
  private eyeCurves(side: number, x: number): void {
    const id = this.id;
    const s = Math.pow(Math.max(0, 1 - x * x), 0.6);
    // tilt lifts the outer corner (outer is x = -1 on the image-left eye, +1 on the right)
    const tilt = id.eyeTilt * id.eyeH * x * side;
    this.eyeLo = id.eyeV + tilt - 0.55 * id.eyeH * s;
    this.eyeUp = this.eyeLo + 1.6 * id.eyeH * s * this.eyeOpen;
  }
  private browCurve(side: number, x: number): number {
    // x from -1 (image-left end) to 1 (image-right end)
    const id = this.id;
    const inner = side < 0 ? x : -x; // +1 at the inner end
    return this.browV + id.browArch * (1 - x * x) - 0.012 * inner;
  }

  /** The 68 landmarks as (u, v) pairs in the iBUG order. */
  landmarkUV(): Float64Array {
    const id = this.id;
    const out = new Float64Array(LANDMARK_VALUES);
    const set = (i: number, u: number, v: number) => {
      out[2 * i] = u;
      out[2 * i + 1] = v;
    };
    // jaw 0..16: ear level on the image left, round the chin, to the image right
    const vTop = id.eyeV - 0.08;
    for (let j = 0; j <= 16; j++) {
      const th = (Math.PI * j) / 16;
      const down = Math.pow(Math.sin(th), 0.75);
      set(
        j,
        -id.jawU * Math.cos(th) * (1 - 0.25 * down),
        vTop + (id.chinV - vTop) * down - (j > 3 && j < 13 ? this.jawDrop * 0.9 * down : 0),
      );
    }
    // brows 17..21 (image-left, outer to inner), 22..26 (inner to outer)
    for (const [start, side] of [
      [17, -1],
      [22, 1],
    ] as const) {
      for (let k = 0; k < 5; k++) {
        const x = -1 + k / 2;
        set(start + k, side * id.eyeU + x * id.browW, this.browCurve(side, x));
      }
    }
    // nose bridge 27..30 and base 31..35
    for (let k = 0; k < 4; k++) set(27 + k, 0, id.eyeV + 0.02 + (id.noseV - id.eyeV - 0.02) * (k / 3));
    const base = id.noseV - 0.055;
    for (let k = 0; k < 5; k++) {
      const x = -1 + k / 2;
      set(31 + k, x * id.noseW * 1.05, base + 0.018 * Math.abs(x));
    }
    // eyes 36..41 and 42..47: corner, 2 upper, corner, 2 lower
    for (const [start, side] of [
      [36, -1],
      [42, 1],
    ] as const) {
      const cu = side * id.eyeU;
      const xs = [-1, -0.35, 0.35, 1, 0.35, -0.35];
      xs.forEach((x, k) => {
        this.eyeCurves(side, x);
        const [up, lo] = [this.eyeUp, this.eyeLo];
        const v = k === 0 || k === 3 ? (up + lo) / 2 : k < 3 ? up : lo;
        set(start + k, cu + x * id.eyeW, v);
      });
    }
    // outer lip 48..59, inner lip 60..67
    const mw = this.mouthW;
    const outer: [number, 0 | 3][] = [
      [-1, 0],
      [-0.62, 0],
      [-0.28, 0],
      [0, 0],
      [0.28, 0],
      [0.62, 0],
      [1, 0],
      [0.62, 3],
      [0.28, 3],
      [0, 3],
      [-0.28, 3],
      [-0.62, 3],
    ];
    outer.forEach(([x, which], k) => {
      this.lipCurves(x);
      set(48 + k, x * mw, which === 0 ? this.lipOU : this.lipOL);
    });
    const inner: [number, 1 | 2][] = [
      [-0.86, 1],
      [-0.4, 1],
      [0, 1],
      [0.4, 1],
      [0.86, 1],
      [0.4, 2],
      [0, 2],
      [-0.4, 2],
    ];
    inner.forEach(([x, which], k) => {
      this.lipCurves(x);
      const [iu, il] = [this.lipIU, this.lipIL];
      // inner corners sit on the lip midline
      const v = k === 0 || k === 4 ? (iu + il) / 2 : which === 1 ? iu : il;
      set(60 + k, x * mw, v);
    });
    return out;
  }

  /** Surface colour at (u, v) before lighting. */
  shade(u: number, v: number, out: Shaded): void {
    const id = this.id;
    const n = this.noise;
    const au = Math.abs(u);
    // skin with low-frequency blotches and fine pores
    const blot = n.at(u * 6 + 11, v * 6 + 5) * 0.04 + n.at(u * 40, v * 40) * 0.015;
    let r = id.skin[0] * (1 + blot);
    let g = id.skin[1] * (1 + blot);
    let b = id.skin[2] * (1 + blot);
    let spec = 0.25;
    let label: number = Label.Skin;
    // blush on the cheeks
    const blush = 0.25 * Math.exp(-(((au - 0.48) / 0.14) ** 2) - ((v + 0.24) / 0.12) ** 2);
    r += (0.85 - r) * blush * 0.5;
    g *= 1 - blush * 0.25;
    b *= 1 - blush * 0.2;

    if (au < 1.0) {
      // brows
      for (let side = -1; side <= 1; side += 2) {
        const x = (u - side * id.eyeU) / id.browW;
        if (x > -1.15 && x < 1.15) {
          const c = this.browCurve(side, Math.max(-1, Math.min(1, x)));
          const inner = side < 0 ? x : -x;
          const th = id.browThick * (1 + 0.35 * inner) * (1 - 0.5 * smoothstep(0.9, 1.15, Math.abs(x)));
          const d = Math.abs(v - c);
          if (d < th) {
            const k = smoothstep(th, th * 0.6, d) * (0.75 + 0.25 * n.at(u * 90, v * 30));
            if (k > 0.5) label = Label.Brow;
            r += (id.hair[0] * 0.6 - r) * k;
            g += (id.hair[1] * 0.6 - g) * k;
            b += (id.hair[2] * 0.6 - b) * k;
          }
        }
      }
      // eyes
      for (let side = -1; side <= 1; side += 2) {
        const x = (u - side * id.eyeU) / id.eyeW;
        if (x <= -1.08 || x >= 1.08 || Math.abs(v - id.eyeV) > id.eyeH * 2.2) continue;
        const xc = Math.max(-1, Math.min(1, x));
        this.eyeCurves(side, xc);
        const up = this.eyeUp;
        const lo = this.eyeLo;
        const lidLine = 0.006;
        if (Math.abs(x) <= 1 && v < up && v > lo) {
          // sclera, iris, pupil
          const iu = side * id.eyeU + this.f.gazeX * id.eyeW * 0.35;
          const iv = id.eyeV + this.f.gazeY * id.eyeH * 0.3;
          const du = u - iu;
          const dv = (v - iv) * 1.1;
          const d = Math.sqrt(du * du + dv * dv);
          if (d < id.irisR) {
            const ring = smoothstep(id.irisR * 0.6, id.irisR, d);
            const pupil = d < id.irisR * 0.42;
            const k = pupil ? 0.05 : 1 - 0.45 * ring + 0.15 * n.at(u * 300, v * 300);
            r = id.iris[0] * k;
            g = id.iris[1] * k;
            b = id.iris[2] * k;
            spec = 1.5;
            label = Label.Iris;
          } else {
            const shadow = 1 - 0.35 * smoothstep(up - 0.35 * id.eyeH, up, v);
            r = 0.93 * shadow;
            g = 0.9 * shadow;
            b = 0.88 * shadow;
            spec = 1.0;
            label = Label.Sclera;
          }
        } else if (Math.abs(v - up) < lidLine * 1.5 || (Math.abs(v - lo) < lidLine && Math.abs(x) < 1)) {
          // lash line / closed-lid crease
          const k = this.eyeOpen < 0.2 || v >= up - lidLine ? 0.75 : 0.45;
          r *= 1 - k;
          g *= 1 - k;
          b *= 1 - k;
        } else if (v > up && v < up + id.eyeH * 0.9 && Math.abs(x) < 1) {
          // eyelid fold shading
          const k = 0.12 * (1 - (v - up) / (id.eyeH * 0.9));
          r *= 1 - k;
          g *= 1 - k;
          b *= 1 - k;
        }
      }
      // nostrils
      const nb = id.noseV - 0.04;
      for (let side = -1; side <= 1; side += 2) {
        const d = ((u - side * id.noseW * 0.5) / (id.noseW * 0.32)) ** 2 + ((v - nb) / 0.012) ** 2;
        if (d < 1) {
          const k = 0.6 * (1 - d);
          if (d < 0.5) label = Label.Nostril;
          r *= 1 - k;
          g *= 1 - k;
          b *= 1 - k;
        }
      }
      // beard and mustache
      if (id.beard !== 'none') {
        const mouthC = this.mouthCenter(0);
        const beardZone =
          id.beard === 'mustache'
            ? Math.exp(-((u / (this.mouthW * 1.1)) ** 4)) *
              smoothstep(mouthC + 0.02, mouthC + 0.045, v) *
              smoothstep(mouthC + 0.13, mouthC + 0.08, v)
            : smoothstep(0.95, 0.75, au) *
              smoothstep(id.noseV - 0.04, id.noseV - 0.1, v) *
              (au > 0.55 ? smoothstep(id.eyeV - 0.25, id.eyeV - 0.4, v) : 1);
        if (beardZone > 0) {
          this.lipCurves(Math.max(-1, Math.min(1, u / this.mouthW)));
          const onLips = Math.abs(u) < this.mouthW && v < this.lipOU + 0.004 && v > this.lipOL - 0.004;
          if (!onLips) {
            const density = id.beard === 'stubble' ? 0.35 : 0.85;
            const k = beardZone * density * (0.7 + 0.3 * n.at(u * 120, v * 120));
            r += (id.hair[0] * 0.8 - r) * k;
            g += (id.hair[1] * 0.8 - g) * k;
            b += (id.hair[2] * 0.8 - b) * k;
            spec = 0.1;
            if (k > 0.4) label = Label.Beard;
          }
        }
      }
      // lips, cavity, teeth
      const x = u / this.mouthW;
      if (x > -1.02 && x < 1.02 && Math.abs(v - id.mouthV) < 0.2) {
        this.lipCurves(Math.max(-1, Math.min(1, x)));
        const ou = this.lipOU;
        const iu = this.lipIU;
        const il = this.lipIL;
        const ol = this.lipOL;
        if (v < iu && v > il && Math.abs(x) < 1) {
          const depth = (iu - v) / Math.max(1e-4, iu - il);
          const teethUp = v > iu - 0.028 && Math.abs(x) < 0.75;
          const teethLo = v < il + 0.016 && Math.abs(x) < 0.6 && this.f.mouthOpen > 0.35;
          label = Label.Mouth;
          if (teethUp || teethLo) {
            r = 0.92;
            g = 0.9;
            b = 0.84;
            spec = 0.8;
          } else {
            const k = 0.35 + 0.3 * (1 - Math.abs(depth - 0.5) * 2);
            r = 0.35 * k;
            g = 0.08 * k;
            b = 0.1 * k;
            spec = 0.1;
          }
        } else if (v <= ou && v >= ol && Math.abs(x) <= 1) {
          const k = 0.9 + 0.1 * n.at(u * 200, v * 60);
          r = id.lip[0] * k;
          g = id.lip[1] * k;
          b = id.lip[2] * k;
          spec = 0.7;
          label = Label.Lip;
        }
      }
    }
    // hair
    const hair = this.hairAmount(u, v);
    if (hair > 0) {
      const strand = 0.75 + 0.25 * n.at(u * 14, v * 160) + 0.1 * n.at(u * 60, v * 4);
      const k = smoothstep(0.2, 0.7, hair);
      r += (id.hair[0] * strand - r) * k;
      g += (id.hair[1] * strand - g) * k;
      b += (id.hair[2] * strand - b) * k;
      spec = spec * (1 - k) + 0.6 * k;
      if (k > 0.5) label = Label.Hair;
    }
    out.r = r;
    out.g = g;
    out.b = b;
    out.spec = spec;
    out.label = label;
  }

  static noiseFor(id: Identity): Noise {
    return new Noise(id.noiseSeed);
  }
}

export type { Noise };

export function shadeColor(c: RGB, label: number): Shaded {
  return { r: c[0], g: c[1], b: c[2], spec: 0.1, label };
}
