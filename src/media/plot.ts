/**
 * Line plots as images (loss curves for run folders and model cards), drawn with our own 5x7 font:
 * no canvas or plotting library in Node. One panel per call; `stack` puts panels under each other.
 */
import { drawText, textWidth } from './font.js';
import type { RgbImage } from './image.js';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: readonly [number, number, number];
}

export interface PanelOptions {
  title: string;
  width?: number;
  height?: number;
  /** vertical marker lines with labels (e.g. where a run was continued) */
  marks?: { x: number; label: string }[];
  /** log10 y axis */
  logY?: boolean;
}

/** "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number) =>
  Math.abs(v) >= 1000
    ? `${+(v / 1000).toPrecision(3)}K`
    : Math.abs(v) < 0.01 && v !== 0
      ? v.toExponential(0)
      : `${+v.toPrecision(3)}`;

/** Moving average over `k` points (the curves of noisy per-step losses). */
export function smooth(y: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(y.length);
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    s += y[i]!;
    if (i >= k) s -= y[i - k]!;
    out[i] = s / Math.min(i + 1, k);
  }
  return out;
}

export function plotPanel(series: Series[], o: PanelOptions): RgbImage {
  const W = o.width ?? 640;
  const H = o.height ?? 220;
  const im: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(255) };
  const left = 52;
  const right = 10;
  const top = 20;
  const bottom = 22;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const ty = (v: number) => (o.logY ? Math.log10(Math.max(v, 1e-12)) : v);
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const s of series)
    for (let i = 0; i < s.x.length; i++) {
      const y = ty(s.y[i]!);
      if (!Number.isFinite(y)) continue;
      x0 = Math.min(x0, s.x[i]!);
      x1 = Math.max(x1, s.x[i]!);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  if (!Number.isFinite(x0)) throw new RangeError(`plot "${o.title}": no finite points`);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => top + (1 - (ty(y) - y0) / (y1 - y0)) * ph;
  const set = (x: number, y: number, c: readonly number[]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    im.data.set(c, (yi * W + xi) * 3);
  };
  const line = (xa: number, ya: number, xb: number, yb: number, c: readonly number[]) => {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(xb - xa), Math.abs(yb - ya))));
    for (let k = 0; k <= n; k++) set(xa + ((xb - xa) * k) / n, ya + ((yb - ya) * k) / n, c);
  };
  const grey = [225, 225, 225];
  const ink = [60, 60, 60] as const;
  // grid and ticks
  const yt = o.logY
    ? niceTicks(Math.floor(y0), Math.ceil(y1), 4).filter((v) => Number.isInteger(v))
    : niceTicks(y0, y1, 4);
  for (const v of yt) {
    if (v < y0 || v > y1) continue;
    const yy = top + (1 - (v - y0) / (y1 - y0)) * ph;
    line(left, yy, left + pw, yy, grey);
    const label = fmt(o.logY ? 10 ** v : v);
    drawText(im, label, left - 4 - textWidth(label), Math.round(yy) - 3, ink);
  }
  for (const v of niceTicks(x0, x1, 6)) {
    const xx = px(v);
    line(xx, top, xx, top + ph, grey);
    const label = fmt(v);
    drawText(im, label, Math.round(xx - textWidth(label) / 2), top + ph + 6, ink);
  }
  line(left, top, left, top + ph, ink);
  line(left, top + ph, left + pw, top + ph, ink);
  for (const m of o.marks ?? []) {
    const xx = px(m.x);
    for (let y = top; y < top + ph; y += 4) line(xx, y, xx, y + 1, [160, 60, 60]);
    drawText(im, m.label, Math.round(xx) + 4, top + ph - 11, [160, 60, 60]);
  }
  // curves
  for (const s of series) {
    let prev: [number, number] | null = null;
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i]!;
      if (!Number.isFinite(ty(v))) {
        prev = null;
        continue;
      }
      const p: [number, number] = [px(s.x[i]!), py(v)];
      if (prev) line(prev[0], prev[1], p[0], p[1], s.color);
      prev = p;
    }
  }
  // title and legend
  drawText(im, o.title, left, 6, [0, 0, 0]);
  let lx = W - right;
  for (const s of [...series].reverse()) {
    lx -= textWidth(s.name) + 18;
    line(lx, 9, lx + 10, 9, s.color);
    line(lx, 10, lx + 10, 10, s.color);
    drawText(im, s.name, lx + 14, 6, ink);
  }
  return im;
}

/** Panels of the same width under each other. */
export function stack(panels: RgbImage[]): RgbImage {
  const w = panels[0]!.width;
  const h = panels.reduce((s, p) => s + p.height, 0);
  const data = new Uint8Array(w * h * 3);
  let y = 0;
  for (const p of panels) {
    if (p.width !== w) throw new RangeError('stack: panels differ in width');
    data.set(p.data, y * w * 3);
    y += p.height;
  }
  return { width: w, height: h, data };
}
