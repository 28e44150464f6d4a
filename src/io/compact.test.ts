import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compactTensors, dequantizeQ8, expandTensors, fromHalf, quantizeQ8, toHalf } from './compact.js';
import type { RawTensor } from './safetensors.js';

test('half precision: the binary16 bit patterns of known values, rounding to nearest even', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // the largest half
    [65520, 0x7c00], // rounds up to infinity
    [Infinity, 0x7c00],
    [2 ** -14, 0x0400], // the smallest normal
    [2 ** -24, 0x0001], // the smallest subnormal
    [2 ** -25, 0x0000], // a tie: rounds to even (0)
    [1 + 2 ** -11, 0x3c00], // a tie between 1 and 1 + 2^-10: to even
    [1 + 3 * 2 ** -11, 0x3c02], // a tie: to even (up)
    [0.1, 0x2e66],
  ];
  for (const [v, h] of cases) assert.equal(toHalf(v), h, `${v}`);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  for (const h of [0x3c00, 0x2e66, 0x0001, 0x03ff, 0x7bff, 0xc000]) assert.equal(toHalf(fromHalf(h)), h);
  // relative error of normal values <= 2^-11
  for (let i = 0; i < 1000; i++) {
    const v = (Math.sin(i * 12.9898) * 43758.5453) % 100;
    if (Math.abs(v) < 1e-4) continue;
    assert.ok(Math.abs(fromHalf(toHalf(v)) - v) <= Math.abs(v) * 2 ** -11, `${v}`);
  }
});

test('8-bit weights: one scale per output channel, error at most half a step', () => {
  const w = Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => Math.sin(i) * (1 + (i % 4)));
  const { q, scale } = quantizeQ8(w, 4);
  assert.equal(scale.length, 4);
  const back = dequantizeQ8(q, scale);
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(back[i]! - w[i]!) <= scale[i % 4]! / 2 + 1e-7);
  assert.ok(
    q.some((v) => Math.abs(v) === 127),
    'the largest weight of a channel uses the full range',
  );
});

test('compact then expand: f16 and q8 files stand for float32 tensors close to the originals', () => {
  const conv: RawTensor = {
    dtype: 'F32',
    shape: [3, 3, 2, 4],
    data: Float32Array.from({ length: 72 }, (_, i) => Math.cos(i) / 7),
  };
  const bias: RawTensor = { dtype: 'F32', shape: [4], data: Float32Array.from([0.1, -0.2, 0.3, 1e-3]) };
  const ids: RawTensor = { dtype: 'I32', shape: [2], data: Int32Array.from([5, 6]) };
  const all = new Map([
    ['params.D.c.weight', conv],
    ['params.D.c.bias', bias],
    ['state.ids', ids],
  ]);
  const f16 = compactTensors(all, 'f16');
  assert.equal(f16.get('params.D.c.weight')!.dtype, 'F16');
  assert.equal(f16.get('state.ids'), ids, 'other dtypes pass');
  const q8 = compactTensors(all, 'q8', (name) => name.startsWith('params.D.'));
  assert.equal(q8.get('params.D.c.weight')!.dtype, 'I8');
  assert.equal(q8.get('params.D.c.bias')!.dtype, 'F16', 'only 4-D weights are 8-bit');
  for (const packed of [f16, q8]) {
    const back = expandTensors(packed);
    assert.deepEqual([...back.keys()], [...all.keys()]);
    for (const [k, t] of all) {
      const b = back.get(k)!;
      assert.deepEqual(b.shape, t.shape);
      const tol = k.endsWith('weight') && packed === q8 ? 1 / 7 / 127 : 1e-3;
      t.data.forEach((v, i) => assert.ok(Math.abs(b.data[i]! - v) <= tol, `${k}[${i}]`));
    }
  }
  const broken = new Map(q8);
  broken.delete('params.D.c.weight#q8scale');
  assert.throws(() => expandTensors(broken), /no matching "params.D.c.weight#q8scale"/);
});
