import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { align, applySimilarity, centroidScale, type Similarity } from './landmarks.js';
import { neutralShape, Retargeter } from './retarget.js';

/** A plausible 68-point face: an ellipse jaw, eyes, nose and a mouth whose opening is `open`. */
function face(o: {
  w: number;
  h: number;
  eyeGap: number;
  open: number;
  cx?: number;
  cy?: number;
}): Float32Array {
  const p = new Float32Array(136);
  const cx = o.cx ?? 32;
  const cy = o.cy ?? 32;
  const set = (i: number, x: number, y: number) => {
    p[2 * i] = cx + x;
    p[2 * i + 1] = cy + y;
  };
  for (let i = 0; i <= 16; i++) {
    const a = Math.PI * (i / 16);
    set(i, -o.w * Math.cos(a), o.h * 0.2 + o.h * Math.sin(a) * 0.8);
  }
  for (let i = 17; i <= 26; i++)
    set(i, (i < 22 ? -1 : 1) * (o.eyeGap / 2 + ((i - 17) % 5) * 2 - 4), -o.h * 0.45);
  for (let i = 27; i <= 35; i++) set(i, (i - 31) * 0.8, -o.h * 0.3 + (i - 27) * 2);
  for (let i = 36; i <= 47; i++)
    set(i, (i < 42 ? -1 : 1) * (o.eyeGap / 2 + Math.cos(i) * 3), -o.h * 0.25 + Math.sin(i));
  for (let i = 48; i <= 67; i++) {
    const a = (2 * Math.PI * (i - 48)) / 20;
    set(i, 8 * Math.cos(a), o.h * 0.45 + (o.open / 2 + 2) * Math.sin(a));
  }
  return p;
}

const dist = (p: Float32Array, i: number, j: number) =>
  Math.hypot(p[2 * i]! - p[2 * j]!, p[2 * i + 1]! - p[2 * j + 1]!);
const rotate = (p: Float32Array, deg: number, s: number, dx: number, dy: number) => {
  const a = (deg * Math.PI) / 180;
  const c = centroidScale(p);
  const t: Similarity = {
    s,
    cos: Math.cos(a),
    sin: Math.sin(a),
    from: c,
    to: { ...c, cx: c.cx + dx, cy: c.cy + dy },
  };
  return applySimilarity(t, p);
};
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

describe('retargeting', () => {
  test('align recovers a known similarity transform (Procrustes)', () => {
    const a = face({ w: 14, h: 18, eyeGap: 12, open: 2 });
    const b = rotate(a, 17, 1.3, 4, -2);
    const t = align(a, b);
    close(t.s, 1.3, 1e-5, 'scale');
    close(Math.atan2(t.sin, t.cos), (17 * Math.PI) / 180, 1e-5, 'angle');
    const back = applySimilarity(t, a);
    for (let k = 0; k < 136; k++) close(back[k]!, b[k]!, 1e-3, `point ${k}`);
  });

  test('the neutral shape of rotated, scaled, moved copies is the shape itself (up to the mean pose)', () => {
    const a = face({ w: 14, h: 18, eyeGap: 12, open: 2 });
    const frames = [rotate(a, 5, 1.1, 1, 0), rotate(a, -5, 0.9, -1, 0), rotate(a, 0, 1, 0, 2)];
    const all = new Float32Array(3 * 136);
    frames.forEach((f, i) => all.set(f, i * 136));
    const n = neutralShape(all, 3);
    // same shape: every distance ratio matches the original
    for (const [i, j] of [
      [0, 16],
      [36, 45],
      [51, 57],
      [8, 27],
    ] as const)
      close(dist(n, i, j) / dist(n, 0, 16), dist(a, i, j) / dist(a, 0, 16), 1e-4, `ratio ${i}-${j}`);
  });

  test("keeps the target's face shape while following the driver's pose and expression", () => {
    const target = face({ w: 18, h: 16, eyeGap: 16, open: 1, cx: 30, cy: 34 }); // wide face, wide-set eyes
    const driverNeutral = face({ w: 11, h: 21, eyeGap: 9, open: 1, cx: 34, cy: 30 }); // narrow, long
    const r = new Retargeter(target, driverNeutral);

    // the driver's neutral frame gives exactly the target's neutral shape
    const same = r.map(driverNeutral);
    for (let k = 0; k < 136; k++) close(same[k]!, target[k]!, 1e-3, `neutral point ${k}`);

    // the driver turns 20 degrees, comes 20% closer and moves right: the output does the same with the target's shape
    const moved = r.map(rotate(driverNeutral, 20, 1.2, 5, 0));
    const t = align(target, moved);
    close(t.s, 1.2, 1e-3, 'scale follows the driver');
    close(Math.atan2(t.sin, t.cos), (20 * Math.PI) / 180, 1e-3, 'rotation follows the driver');
    close(
      centroidScale(moved).cx - centroidScale(target).cx,
      5 * (centroidScale(target).size / centroidScale(driverNeutral).size),
      1e-3,
      'moves as far, in face sizes',
    );
    // its proportions are the target's, not the driver's
    close(
      dist(moved, 0, 16) / dist(moved, 8, 27),
      dist(target, 0, 16) / dist(target, 8, 27),
      1e-4,
      "jaw width / face height: target's",
    );
    assert.ok(
      Math.abs(
        dist(moved, 0, 16) / dist(moved, 8, 27) - dist(driverNeutral, 0, 16) / dist(driverNeutral, 8, 27),
      ) > 0.2,
    );

    // the driver opens its mouth: the target's mouth opens by as much, relative to face size
    const open = face({ w: 11, h: 21, eyeGap: 9, open: 8, cx: 34, cy: 30 });
    const out = r.map(open);
    const mouth = (p: Float32Array) => {
      const ys = Array.from({ length: 20 }, (_, k) => p[2 * (48 + k) + 1]!);
      return Math.max(...ys) - Math.min(...ys);
    };
    const rel = (p: Float32Array, ref: Float32Array) => (mouth(p) - mouth(ref)) / centroidScale(ref).size;
    assert.ok(rel(out, target) > 0.05, 'the mouth opens');
    close(rel(out, target), rel(open, driverNeutral), 0.02, 'mouth opening relative to face size');
    // and the eyes stay where the target's are
    close(dist(out, 36, 45), dist(target, 36, 45), 0.5, "eye distance stays the target's");
  });

  test("a tilted target: the driver's expression follows the target's own axes (rotation-equivariant)", () => {
    const target = face({ w: 18, h: 16, eyeGap: 16, open: 1, cx: 30, cy: 34 });
    const driverNeutral = face({ w: 11, h: 21, eyeGap: 9, open: 1, cx: 34, cy: 30 });
    const open = rotate(face({ w: 11, h: 21, eyeGap: 9, open: 8, cx: 34, cy: 30 }), 10, 1.1, 2, 1);
    const upright = new Retargeter(target, driverNeutral).map(open);
    const tilted = new Retargeter(rotate(target, 30, 1, 0, 0), driverNeutral).map(open);
    // the same output, turned 30 degrees about the target's centre
    const expected = rotate(upright, 0, 1, 0, 0);
    const t = align(upright, tilted);
    close(Math.atan2(t.sin, t.cos), (30 * Math.PI) / 180, 1e-4, 'turned by the target tilt');
    close(t.s, 1, 1e-4, 'same size');
    const back = applySimilarity(align(tilted, upright), tilted);
    for (let k = 0; k < 136; k++) close(back[k]!, expected[k]!, 1e-2, `point ${k}`);
  });
});
