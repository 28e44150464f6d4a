import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePng, readPng, upscale } from './png.js';

test('upscale repeats each pixel k x k times; PNG round-trips it', () => {
  // 2 x 1 image: red, blue
  const im = { width: 2, height: 1, data: Uint8Array.from([255, 0, 0, 0, 0, 255]) };
  const up = upscale(im, 2);
  assert.equal(up.width, 4);
  assert.equal(up.height, 2);
  const red = [255, 0, 0];
  const blue = [0, 0, 255];
  assert.deepEqual(Array.from(up.data), [...red, ...red, ...blue, ...blue, ...red, ...red, ...blue, ...blue]);
  assert.equal(upscale(im, 1), im);
  assert.throws(() => upscale(im, 0), /positive integer/);
  assert.deepEqual(readPng(encodePng(up)), up);
});
