import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawText, textWidth } from './font.js';
import { niceTicks, plotPanel, smooth } from './plot.js';

test('nice ticks: steps of 1, 2 or 5 x 10^k inside the range', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.07, 0.33, 4), [0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(0, 30000, 6), [0, 5000, 10000, 15000, 20000, 25000, 30000]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test('moving average: the mean of the last k points (fewer at the start)', () => {
  assert.deepEqual([...smooth([1, 3, 5, 7], 2)], [1, 2, 4, 6]);
  assert.deepEqual([...smooth([4, 4, 4], 10)], [4, 4, 4]);
});

test('text: 6 pixels a letter with 1 between; ink where the glyph has it, clipped at the edges', () => {
  assert.equal(textWidth('AB'), 11);
  assert.equal(textWidth('AB', 2), 22);
  const im = { width: 12, height: 8, data: new Uint8Array(12 * 8 * 3).fill(255) };
  drawText(im, 'I-', 0, 0, [0, 0, 0]);
  const ink = (x: number, y: number) => im.data[(y * 12 + x) * 3] === 0;
  assert.ok(ink(2, 3), "I's stem");
  assert.ok(!ink(0, 3), 'beside the stem');
  assert.ok(ink(7, 3) && ink(9, 3) && !ink(6, 3), "-'s bar at x = 7..9");
  drawText(im, 'WWWW', 10, 5); // mostly outside: no throw
});

test('a panel: curves drawn in their colour inside the axes; no finite point is an error', () => {
  const im = plotPanel([{ name: 'L1', x: [0, 1, 2], y: [1, 0.5, 0.25], color: [255, 0, 0] }], {
    title: 'T',
    width: 200,
    height: 100,
  });
  let red = 0;
  for (let i = 0; i < im.data.length; i += 3)
    if (im.data[i] === 255 && im.data[i + 1] === 0 && im.data[i + 2] === 0) red++;
  assert.ok(red > 100, `red pixels: ${red}`);
  assert.throws(
    () => plotPanel([{ name: 'x', x: [0], y: [NaN], color: [0, 0, 0] }], { title: 'E' }),
    /no finite/,
  );
});
