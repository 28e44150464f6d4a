import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FACE_PARTS, landmarkBox, lineWidthFor, rasterizeLandmarks } from './landmarks.js';

/** 68 landmarks all at one point, except those set. */
function points(set: Record<number, [number, number]>, rest: [number, number] = [-50, -50]): Float32Array {
  const p = new Float32Array(136);
  for (let i = 0; i < 68; i++) [p[2 * i], p[2 * i + 1]] = set[i] ?? rest;
  return p;
}
const px = (im: Uint8Array, size: number, x: number, y: number) =>
  Array.from(im.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

describe('landmark image', () => {
  test('a horizontal jaw segment of width 1 covers exactly its pixel row', () => {
    // jaw points 0..16 on a horizontal line through pixel centres of row 5, x from 2.0 to 10.5
    const set: Record<number, [number, number]> = {};
    for (let i = 0; i <= 16; i++) set[i] = [2 + (8.5 * i) / 16, 5.5];
    const im = rasterizeLandmarks(points(set), 16, undefined, 1);
    for (let x = 2; x <= 10; x++) assert.deepEqual(px(im, 16, x, 5), [255, 255, 255], `pixel (${x}, 5)`);
    // rows above and below: centres 1px from the line, past the 0.5px half-width + 0.5px falloff
    for (let x = 0; x < 16; x++) {
      for (const y of [3, 4, 6, 7])
        assert.deepEqual(px(im, 16, x, y), [0, 0, 0], `pixel (${x}, ${y}) off the line`);
    }
    // pixel 1's centre is 0.5px beyond the end at x = 2.0: half coverage; pixel 11's is 1px beyond: none
    assert.deepEqual(px(im, 16, 1, 5), [128, 128, 128]);
    assert.deepEqual(px(im, 16, 11, 5), [0, 0, 0]);
  });

  test('closed parts join their last point to the first; open parts do not', () => {
    // right eye 36..41: square corners (closed) -> the left edge x = 4.5 from (4.5, 8.5) to (4.5, 4.5) is drawn
    const eye = points({
      36: [4.5, 4.5],
      37: [8.5, 4.5],
      38: [12.5, 4.5],
      39: [12.5, 8.5],
      40: [8.5, 8.5],
      41: [4.5, 8.5],
    });
    const im = rasterizeLandmarks(eye, 20, undefined, 1);
    const green = FACE_PARTS.find((p) => p.name === 'right_eye')!.color;
    assert.deepEqual(px(im, 20, 4, 6), [...green]);
    // brow 17..21 (open) laid out the same way: no closing edge
    const brow = points({ 17: [4.5, 4.5], 18: [8.5, 4.5], 19: [12.5, 4.5], 20: [12.5, 8.5], 21: [4.5, 8.5] });
    const im2 = rasterizeLandmarks(brow, 20, undefined, 1);
    assert.deepEqual(px(im2, 20, 4, 6), [0, 0, 0]);
    assert.deepEqual(px(im2, 20, 12, 6), [...FACE_PARTS.find((p) => p.name === 'right_brow')!.color]);
  });

  test('each part has its own colour; where parts cross, the brighter channel wins', () => {
    const colors = new Set(FACE_PARTS.map((p) => p.color.join()));
    assert.equal(colors.size, FACE_PARTS.length);
    assert.equal(lineWidthFor(256), 2);
    assert.equal(lineWidthFor(64), 1);
  });

  test('bad input gets a clear error', () => {
    assert.throws(() => rasterizeLandmarks(new Float32Array(10), 16), /expected 136 numbers/);
    const p = points({});
    p[77] = NaN;
    assert.throws(() => rasterizeLandmarks(p, 16), /landmark 38 has a non-finite y/);
    assert.throws(() => rasterizeLandmarks(points({}), 16, new Uint8Array(5)), /output buffer/);
    assert.deepEqual(landmarkBox(points({ 3: [1, 2], 60: [9, -4] }, [5, 5])), [1, -4, 9, 5]);
  });
});
