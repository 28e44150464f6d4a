import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeY4m, y4mFrame, y4mHeader } from './y4m.js';

test('y4m: header, frame layout and BT.601 full-range colours', () => {
  assert.equal(new TextDecoder().decode(y4mHeader(4, 2, 25)), 'YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg\n');
  assert.throws(() => y4mHeader(3, 2, 25), /even/);
  // left 2x2 block pure red, right 2x2 block white
  const rgb = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++)
    for (let x = 0; x < 4; x++) rgb.set(x < 2 ? [255, 0, 0] : [255, 255, 255], 3 * (y * 4 + x));
  const f = y4mFrame(rgb, 4, 2);
  assert.equal(new TextDecoder().decode(f.subarray(0, 6)), 'FRAME\n');
  assert.equal(f.length, 6 + 8 + 2 + 2);
  const Y = f.subarray(6, 14);
  assert.deepEqual([...Y], [76, 76, 255, 255, 76, 76, 255, 255]); // 0.299 x 255 = 76.2
  assert.deepEqual([...f.subarray(14, 16)], [85, 128]); // Cb: 128 - 0.1687 x 255 = 85.0; white: 128
  assert.deepEqual([...f.subarray(16, 18)], [255, 128]); // Cr: 128 + 0.5 x 255 = 255.5 -> 255
  assert.equal(encodeY4m([rgb, rgb], 4, 2, 25).length, y4mHeader(4, 2, 25).length + 2 * f.length);
});
