import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePng, readPng } from './png.js';
import {
  gifWithComment,
  pngWithText,
  readGifComments,
  readPngText,
  SOFTWARE,
  syntheticTag,
  watermark,
} from './provenance.js';

const image = (w: number, h: number) => ({
  width: w,
  height: h,
  data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 251),
});

test('a tagged PNG carries tEXt chunks (CRCs valid: the decoder checks them) and decodes to the same pixels', () => {
  const im = image(20, 12);
  const tag = syntheticTag('real-64px');
  const png = encodePng(im, tag);
  assert.deepEqual(readPngText(png), { Software: SOFTWARE, Comment: tag });
  assert.deepEqual(readPng(png).data, im.data);
  assert.deepEqual(readPngText(encodePng(im)), {}, 'untagged unless asked');
  const two = pngWithText(encodePng(im), { a: 'x', b: 'y' });
  assert.deepEqual(readPngText(two), { a: 'x', b: 'y' });
  assert.throws(() => pngWithText(new Uint8Array(40), { a: 'x' }), /not a PNG/);
});

test('a GIF comment extension goes after the colour table and reads back, long text in 255-byte blocks', () => {
  // GIF89a, 1x1, global colour table of 2 entries, one image: the smallest valid file
  const gif = Uint8Array.from([
    ...Buffer.from('GIF89a'),
    1,
    0,
    1,
    0,
    0x80,
    0,
    0, // screen 1x1, GCT flag, size 2
    0,
    0,
    0,
    255,
    255,
    255, // the colour table
    0x2c,
    0,
    0,
    0,
    0,
    1,
    0,
    1,
    0,
    0, // image descriptor
    2,
    2,
    0x44,
    1,
    0, // LZW min size 2, one sub-block, terminator
    0x3b,
  ]);
  const long = 'synthetic '.repeat(40);
  const tagged = gifWithComment(gif, long);
  assert.equal(tagged.length, gif.length + 2 + 2 + long.length + 1);
  assert.deepEqual(readGifComments(tagged), [long]);
  assert.deepEqual(readGifComments(gif), []);
  assert.deepEqual(
    tagged.subarray(tagged.length - 16),
    gif.subarray(gif.length - 16),
    'the image follows unchanged',
  );
  assert.throws(() => gifWithComment(new Uint8Array(20), 'x'), /not a GIF/);
});

test('the visible mark changes the bottom-right corner only', () => {
  const im = image(96, 64);
  const w = watermark(im);
  let changedOutside = 0;
  let changedInside = 0;
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 96; x++) {
      const i = (y * 96 + x) * 3;
      const changed = w.data[i] !== im.data[i] || w.data[i + 1] !== im.data[i + 1];
      if (x >= 96 - 60 && y >= 64 - 10) changedInside += changed ? 1 : 0;
      else changedOutside += changed ? 1 : 0;
    }
  assert.equal(changedOutside, 0);
  assert.ok(changedInside > 100, `the mark is there (${changedInside} pixels)`);
  assert.notEqual(w.data, im.data, 'a new image; the input is kept');
});
