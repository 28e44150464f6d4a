import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Label } from './head.js';
import { identityParams } from './identity.js';
import { HeadRenderer, renderFrame } from './render.js';

function inPolygon(x: number, y: number, poly: number[]): boolean {
  let inside = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const [xi, yi, xj, yj] = [poly[2 * i]!, poly[2 * i + 1]!, poly[2 * j]!, poly[2 * j + 1]!];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Fraction of pixels whose centre lies inside the landmark polygon `from..to` that carry one of `labels`. */
function fractionInside(
  lm: Float32Array,
  from: number,
  to: number,
  labels: Uint8Array,
  size: number,
  want: number[],
): [number, number] {
  const poly = Array.from(lm.subarray(2 * from, 2 * to + 2));
  let n = 0;
  let hit = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inPolygon(x + 0.5, y + 0.5, poly)) continue;
      n++;
      if (want.includes(labels[y * size + x]!)) hit++;
    }
  }
  return [hit / Math.max(1, n), n];
}

describe('procedural talking heads', () => {
  test('deterministic, addressable by (identity, sequence, frame), varied', () => {
    const a = renderFrame(7, 3, 1, 20, 64);
    const b = renderFrame(7, 3, 1, 20, 64);
    assert.deepEqual(a.image, b.image);
    assert.deepEqual(a.landmarks, b.landmarks);
    // random access equals sequential rendering with a warm renderer
    const r = new HeadRenderer(7, 3);
    for (let f = 0; f < 20; f++) r.render(1, f, 64);
    assert.deepEqual(r.render(1, 20, 64).image, a.image);
    // other identities, sequences and frames differ
    assert.notDeepEqual(renderFrame(7, 4, 1, 20, 64).image, a.image);
    assert.notDeepEqual(renderFrame(7, 3, 2, 20, 64).landmarks, a.landmarks);
    assert.notDeepEqual(renderFrame(8, 3, 1, 20, 64).image, a.image);
    // identities vary in colour and style
    const ids = Array.from({ length: 40 }, (_, i) => identityParams(1, i));
    assert.ok(new Set(ids.map((i) => i.hairStyle)).size >= 4);
    assert.ok(ids.some((i) => i.glasses) && ids.some((i) => !i.glasses));
    assert.ok(ids.some((i) => i.beard !== 'none'));
    const tones = ids.map((i) => i.skin[0] + i.skin[1] + i.skin[2]);
    assert.ok(Math.max(...tones) - Math.min(...tones) > 1, 'skin tones span light to dark');
  });

  test('motion: mouth opens and closes, eyes blink, head turns', () => {
    const r = new HeadRenderer(2, 1);
    const ps = Array.from({ length: 250 }, (_, f) => r.render(0, f, 16).params);
    const open = ps.map((p) => p.mouthOpen);
    assert.ok(Math.max(...open) > 0.5 && Math.min(...open) === 0);
    assert.ok(ps.some((p) => p.blink > 0.9) && ps.filter((p) => p.blink > 0.5).length < 40);
    const yaws = ps.map((p) => p.yaw);
    assert.ok(Math.max(...yaws) - Math.min(...yaws) > 0.1);
    assert.ok(yaws.every((y) => Math.abs(y) <= 0.6));
  });

  test('projected landmarks land on the rendered features', () => {
    const size = 128;
    let checked = 0;
    for (let identity = 0; identity < 12; identity++) {
      const r = new HeadRenderer(11, identity);
      const id = r.id;
      for (const frame of [0, 17, 40]) {
        const f = r.render(0, frame, size, { labels: true });
        const labels = f.labels!;
        const lm = f.landmarks;
        // eyes: the polygon of each eye's 6 points holds the sclera and iris
        if (f.params.blink < 0.3) {
          for (const [from, to] of [
            [36, 41],
            [42, 47],
          ] as const) {
            const [frac, n] = fractionInside(lm, from, to, labels, size, [Label.Sclera, Label.Iris]);
            if (n >= 4)
              assert.ok(
                frac > 0.75,
                `identity ${identity} frame ${frame} eye ${from}: ${frac.toFixed(2)} of ${n} px`,
              );
          }
        }
        // lips: the outer-lip polygon holds lips, mouth cavity and teeth
        const [lips, nl] = fractionInside(lm, 48, 59, labels, size, [Label.Lip, Label.Mouth]);
        assert.ok(
          nl >= 6 && lips > 0.75,
          `identity ${identity} frame ${frame} lips: ${lips.toFixed(2)} of ${nl} px`,
        );
        // open mouth: the inner-lip polygon holds the cavity
        if (f.params.mouthOpen > 0.6) {
          const [cav, nc] = fractionInside(lm, 60, 67, labels, size, [Label.Mouth]);
          if (nc >= 4)
            assert.ok(cav > 0.7, `identity ${identity} frame ${frame} mouth cavity: ${cav.toFixed(2)}`);
        }
        // brows (unless a fringe covers them): each brow point is on or next to brow pixels
        if (id.hairStyle !== 'fringe') {
          let near = 0;
          for (let i = 17; i <= 26; i++) {
            const x = Math.floor(lm[2 * i]!);
            const y = Math.floor(lm[2 * i + 1]!);
            let found = false;
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++)
                if (labels[(y + dy) * size + x + dx] === Label.Brow) found = true;
            if (found) near++;
          }
          assert.ok(near >= 8, `identity ${identity} frame ${frame}: only ${near}/10 brow points on brows`);
        }
        // nose tip and every landmark lie on the head, not the background
        for (let i = 0; i < 68; i++) {
          const x = Math.floor(lm[2 * i]!);
          const y = Math.floor(lm[2 * i + 1]!);
          assert.ok(x >= 0 && y >= 0 && x < size && y < size, `landmark ${i} inside the image`);
        }
        assert.notEqual(labels[Math.floor(lm[61]!) * size + Math.floor(lm[60]!)], 0, 'nose tip on the face');
        checked++;
      }
    }
    assert.equal(checked, 36);
  });
});
