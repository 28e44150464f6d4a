import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  augmentFrame,
  colourJitter,
  flipLandmarks,
  landmarkWarp,
  MIRROR_68,
  ThinPlateSpline,
  WARP_CONTROL,
} from './augment.js';
import { nearestFrame, sourceWarps, warpFrame } from './source_warp.js';

const S = 64;

/** 68 distinct points spread over the middle of an S x S crop (a face-sized cloud). */
function cloud(): Float32Array {
  const lm = new Float32Array(136);
  for (let i = 0; i < 68; i++) {
    const a = i * 2.399963; // golden angle: no two points close
    const r = 4 + 18 * Math.sqrt((i + 0.5) / 68);
    lm[2 * i] = S / 2 + r * Math.cos(a);
    lm[2 * i + 1] = S / 2 + r * Math.sin(a);
  }
  return lm;
}

/** Up to `n` landmark indices (from `from`), each at least 10 px from the others: blobs that do not touch. */
function apart(lm: ArrayLike<number>, from: number[], n: number): number[] {
  const out: number[] = [];
  for (const i of from) {
    if (out.every((j) => Math.hypot(lm[2 * i]! - lm[2 * j]!, lm[2 * i + 1]! - lm[2 * j + 1]!) >= 10))
      out.push(i);
    if (out.length === n) break;
  }
  assert.ok(out.length >= 3);
  return out;
}

/** A black image with a 3 x 3 white square centred on each of `points` (index list into lm). */
function dots(lm: ArrayLike<number>, points: number[]): Uint8Array {
  const img = new Uint8Array(S * S * 3);
  for (const i of points) {
    const cx = Math.floor(lm[2 * i]!);
    const cy = Math.floor(lm[2 * i + 1]!);
    for (let y = cy - 1; y <= cy + 1; y++)
      for (let x = cx - 1; x <= cx + 1; x++) img.fill(255, (y * S + x) * 3, (y * S + x) * 3 + 3);
  }
  return img;
}

/** Centroid (continuous coordinates) of the bright pixels within `r` of (x, y). */
function blobAt(img: Uint8Array, x: number, y: number, r = 4): [number, number] {
  let sx = 0;
  let sy = 0;
  let w = 0;
  for (let py = Math.floor(y - r); py <= y + r; py++)
    for (let px = Math.floor(x - r); px <= x + r; px++) {
      if (px < 0 || py < 0 || px >= S || py >= S) continue;
      const v = img[(py * S + px) * 3]!;
      sx += v * (px + 0.5);
      sy += v * (py + 0.5);
      w += v;
    }
  assert.ok(w > 0, `no blob near (${x.toFixed(1)}, ${y.toFixed(1)})`);
  return [sx / w, sy / w];
}

describe('augmentations', () => {
  test('MIRROR_68 is an involution that swaps the left and right parts', () => {
    assert.equal(MIRROR_68.length, 68);
    MIRROR_68.forEach((j, i) => assert.equal(MIRROR_68[j], i));
    assert.equal(MIRROR_68[0], 16); // jaw
    assert.equal(MIRROR_68[17], 26); // brows
    assert.equal(MIRROR_68[36], 45); // outer eye corners
    assert.equal(MIRROR_68[40], 47);
    assert.equal(MIRROR_68[48], 54); // mouth corners
    assert.equal(MIRROR_68[60], 64);
    for (const c of [8, 27, 30, 33, 51, 57, 62, 66])
      assert.equal(MIRROR_68[c], c, `point ${c} is on the axis`);
  });

  test('flip: the image mirrored, each landmark where its mirrored twin was', () => {
    const lm = cloud();
    const pts = apart(lm, [0, 17, 36, 48, 60, 8, 22, 45], 5);
    const { rgb, landmarks } = augmentFrame(dots(lm, pts), lm, S, { flip: true });
    for (const i of pts) {
      // point i of the original is point MIRROR_68[i] of the flipped face, at x -> S - x
      const j = MIRROR_68[i]!;
      assert.ok(Math.abs(landmarks[2 * j]! - (S - lm[2 * i]!)) < 1e-5);
      assert.equal(landmarks[2 * j + 1], lm[2 * i + 1]);
      const [bx, by] = blobAt(rgb, landmarks[2 * j]!, landmarks[2 * j + 1]!);
      // the blob was drawn on whole pixels around floor(x): mirrored, its centre moves by < 1 px
      assert.ok(Math.abs(bx - landmarks[2 * j]!) < 1, `flipped point ${i}: blob at ${bx}`);
      assert.ok(Math.abs(by - landmarks[2 * j + 1]!) < 1);
    }
    const twice = flipLandmarks(flipLandmarks(lm, S), S);
    twice.forEach((v, k) => assert.ok(Math.abs(v - lm[k]!) < 1e-4));
  });

  test('similarity jitter moves the pixels and the landmarks together', () => {
    const lm = cloud();
    const pts = apart(lm, [3, 20, 41, 55, 66, 10, 30, 50], 5);
    const img = dots(lm, pts);
    const before = pts.map((i) => blobAt(img, lm[2 * i]!, lm[2 * i + 1]!));
    const [angle, scale] = [0.12, 1.07];
    const { rgb, landmarks } = augmentFrame(img, lm, S, { jitter: { angle, scale, dx: 2.5, dy: -1.5 } });
    pts.forEach((i, k) => {
      const [bx, by] = blobAt(rgb, landmarks[2 * i]!, landmarks[2 * i + 1]!);
      // the blob's offset from its landmark (the drawn square is not centred on it) turns and scales
      // with the frame: the blob moved exactly as the landmark did
      const ox = before[k]![0] - lm[2 * i]!;
      const oy = before[k]![1] - lm[2 * i + 1]!;
      const ex = landmarks[2 * i]! + scale * (Math.cos(angle) * ox - Math.sin(angle) * oy);
      const ey = landmarks[2 * i + 1]! + scale * (Math.sin(angle) * ox + Math.cos(angle) * oy);
      assert.ok(
        Math.hypot(bx - ex, by - ey) < 0.3,
        `point ${i}: blob ${Math.hypot(bx - ex, by - ey)} px off`,
      );
    });
  });

  test('thin-plate spline: interpolates its control points and reproduces an affine map exactly', () => {
    const from = cloud().subarray(0, 40);
    const affine = (x: number, y: number): [number, number] => [
      1.1 * x - 0.2 * y + 3,
      0.15 * x + 0.9 * y - 2,
    ];
    const to = new Float32Array(from.length);
    for (let i = 0; i < from.length / 2; i++)
      [to[2 * i], to[2 * i + 1]] = affine(from[2 * i]!, from[2 * i + 1]!);
    const tps = new ThinPlateSpline(from, to, 0);
    for (const [x, y] of [
      [5, 7],
      [40, 12],
      [33.3, 50.1],
    ] as const) {
      const [fx, fy] = tps.map(x, y);
      const [ax, ay] = affine(x, y);
      assert.ok(Math.abs(fx - ax) < 1e-4 && Math.abs(fy - ay) < 1e-4);
    }
    // a non-affine move: control points land exactly where sent
    const bent = Float32Array.from(to, (v, k) => v + 3 * Math.sin(k));
    const t2 = new ThinPlateSpline(from, bent, 0);
    for (let i = 0; i < from.length / 2; i++) {
      const [fx, fy] = t2.map(from[2 * i]!, from[2 * i + 1]!);
      assert.ok(Math.abs(fx - bent[2 * i]!) < 1e-4 && Math.abs(fy - bent[2 * i + 1]!) < 1e-4);
    }
  });

  test('landmark warp: features land where the warp sends their landmarks; the border stays', () => {
    const lm = cloud();
    // a smooth move of up to ~3 px (an expression-sized change), varying over the face
    const to = Float32Array.from(lm, (v, k) =>
      k % 2 ? v + 2 * Math.cos(lm[k - 1]! / 9) : v + 2.5 * Math.sin(lm[k + 1]! / 8),
    );
    const warp = landmarkWarp(lm, to, S);
    for (const i of WARP_CONTROL) {
      assert.equal(warp.landmarks[2 * i], to[2 * i]);
      assert.equal(warp.landmarks[2 * i + 1], to[2 * i + 1]);
    }
    // the inner lip (60-67) is not a control point: it follows the spline, near where it was sent
    const pts = apart(lm, [5, 19, 30, 44, 52, 58, 12, 25, 37], 6);
    const img = dots(lm, pts);
    const { rgb, landmarks } = augmentFrame(img, lm, S, { warp });
    for (const i of pts) {
      const [ox, oy] = blobAt(img, lm[2 * i]!, lm[2 * i + 1]!);
      const [bx, by] = blobAt(rgb, landmarks[2 * i]!, landmarks[2 * i + 1]!);
      // the blob moved by the landmark's move (within sampling error)
      const dx = bx - ox - (landmarks[2 * i]! - lm[2 * i]!);
      const dy = by - oy - (landmarks[2 * i + 1]! - lm[2 * i + 1]!);
      assert.ok(Math.hypot(dx, dy) < 0.75, `point ${i}: blob off by ${Math.hypot(dx, dy).toFixed(2)} px`);
    }
    // pinned border: a corner samples the corner
    const [cx, cy] = warp.inverse.map(0, 0);
    assert.ok(Math.abs(cx) < 1e-3 && Math.abs(cy) < 1e-3);
    // degenerate control points (all on one spot) are refused with a message
    assert.throws(() => new ThinPlateSpline(new Float32Array(8), new Float32Array(8), 0), /degenerate/);
  });

  test('colour jitter: identity parameters change nothing; gain and contrast act as stated', () => {
    const img = Uint8Array.from({ length: S * 3 * 4 }, (_, i) => (i * 37) % 200);
    const same = colourJitter(Uint8Array.from(img), {
      gain: [1, 1, 1],
      brightness: 0,
      contrast: 1,
      saturation: 1,
    });
    assert.deepEqual(same, img);
    const grey = new Uint8Array(30).fill(100);
    const up = colourJitter(Uint8Array.from(grey), {
      gain: [1, 1, 1],
      brightness: 10,
      contrast: 1,
      saturation: 1,
    });
    assert.deepEqual([...new Set(up)], [110]);
    const red = colourJitter(Uint8Array.from(grey), {
      gain: [1.2, 1, 1],
      brightness: 0,
      contrast: 1,
      saturation: 1,
    });
    assert.deepEqual([red[0], red[1], red[2]], [120, 100, 100]);
  });
});

describe('source warp (source_warp.ts)', () => {
  /** a smooth, textured frame: every pixel differs from its neighbours */
  const textured = () => {
    const img = new Uint8Array(S * S * 3);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++)
        for (let c = 0; c < 3; c++)
          img[(y * S + x) * 3 + c] = 128 + 100 * Math.sin(0.21 * x + 0.13 * y * (c + 1) + c);
    return img;
  };
  /** the cloud with its lower points moved down and out (a mouth opening, a head turning) */
  const moved = (lm: Float32Array) =>
    lm.map((v, k) => (k % 2 === 1 && v > S / 2 ? v + 0.12 * (v - S / 2) : k % 2 === 0 ? v + 1.5 : v));

  test('onto its own landmarks a frame is unchanged; onto others its features follow them', () => {
    const lm = cloud();
    const img = textured();
    assert.deepEqual(warpFrame(img, lm, lm, S), img);
    const to = moved(lm);
    const pts = apart(lm, [1, 19, 37, 50, 57, 9, 25, 44], 5);
    const out = warpFrame(dots(lm, pts), lm, to, S);
    const ref = augmentFrame(dots(lm, pts), lm, S, { warp: landmarkWarp(lm, to, S) }).rgb;
    for (const i of pts) {
      // the blob moves as its landmark does, as in the dense warp of augmentations
      const [bx, by] = blobAt(out, to[2 * i]!, to[2 * i + 1]!);
      const [rx, ry] = blobAt(ref, to[2 * i]!, to[2 * i + 1]!);
      assert.ok(Math.hypot(bx - rx, by - ry) < 0.15, `point ${i}: ${Math.hypot(bx - rx, by - ry)} px`);
    }
  });

  test('the spline on a 4-pixel grid, interpolated, matches it evaluated at every pixel', () => {
    const lm = cloud();
    const img = textured();
    const fast = warpFrame(img, lm, moved(lm), S);
    const dense = warpFrame(img, lm, moved(lm), S, 1);
    let sum = 0;
    let max = 0;
    fast.forEach((v, i) => {
      const d = Math.abs(v - dense[i]!);
      sum += d;
      max = Math.max(max, d);
    });
    assert.ok(sum / fast.length < 0.5, `mean difference ${sum / fast.length} grey levels`);
    assert.ok(max <= 12, `largest difference ${max} grey levels`);
    assert.throws(() => warpFrame(img.subarray(3), lm, lm, S), /not a 64x64 RGB frame/);
  });

  test('the nearest frame is drawn from, and a frame is never its own source when there are others', () => {
    const a = cloud();
    const b = moved(a);
    const lms = new Float32Array([...a, ...b]);
    assert.equal(nearestFrame(lms, 2, a), 0);
    assert.equal(nearestFrame(lms, 2, b), 1);
    assert.equal(nearestFrame(lms, 2, a, 0), 1);
    assert.equal(nearestFrame(lms.subarray(0, 136), 1, b, 0), 0); // the only frame
    const img0 = textured();
    const img1 = img0.map((v) => 255 - v);
    const src = { rgb: new Uint8Array([...img0, ...img1]), landmarks: lms, count: 2, size: S };
    const w = sourceWarps(src, [a, b], [0, -1]);
    // target 0 (frame 0's own landmarks, itself excluded) comes from frame 1 warped back onto a
    const expect0 = warpFrame(img1, b, a, S);
    const expect1 = img1;
    for (let i = 0; i < S * S * 3; i += 97) {
      assert.ok(Math.abs(w[i]! - (expect0[i]! / 127.5 - 1)) < 1e-6);
      assert.ok(Math.abs(w[S * S * 3 + i]! - (expect1[i]! / 127.5 - 1)) < 1e-6);
    }
  });
});
