// A sheet a person can judge (issue 21): for each test person of two `evaluate` runs on the same
// data (e.g. the procedural-only model and a real-face model), one row of
//   given | driver landmarks | FF A | FT A | FF B | FT B | real
// from the runs' units/ strips, labelled, with a line saying the generated columns are synthetic.
// "-" "-" for B: one model's sheet (given | landmarks | FF | FT | real).
//   npx tsx scripts/real-sheet.ts OUT.png T "LABEL A" EVAL_A "LABEL B" EVAL_B [rows=8] [scale=2]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { drawText } from '../src/media/font.js';
import { cut, paste, readPng, upscale, writePng, type RgbImage } from '../src/media/png.js';

const [out, tArg, labelA, dirA, labelB, dirB, rowsArg, scaleArg] = process.argv.slice(2);
if (!out || !tArg || !labelA || !dirA || !labelB || !dirB) {
  console.error(
    'usage: npx tsx scripts/real-sheet.ts OUT.png T "LABEL A" EVAL_A "LABEL B" EVAL_B [rows=8] [scale=2]',
  );
  process.exit(2);
}
const T = Number(tArg);
const rows = Number(rowsArg ?? 8);
const scale = Number(scaleArg ?? 2);
// the columns of an evaluate strip (src/eval/evaluate.ts SHEET_COLUMNS)
const STRIP = ['given', 'landmarks', 'real', 'copy', 'untrained', 'feed-forward', 'fine-tuned'];
const strips = (dir: string) =>
  new Map(
    readdirSync(join(dir, 'units'))
      .filter((f) => f.endsWith(`-T${T}.png`))
      .map((f) => [f.slice(0, -`-T${T}.png`.length), readPng(readFileSync(join(dir, 'units', f)))]),
  );
const a = strips(dirA);
const one = dirB === '-';
const b = one ? a : strips(dirB);
const people = [...a.keys()]
  .filter((k) => b.has(k))
  .sort()
  .slice(0, rows);
if (!people.length) throw new Error(`No test person at T = ${T} in both ${dirA} and ${dirB}`);
const cols: [string, Map<string, RgbImage>, string][] = [
  ['GIVEN', a, 'given'],
  ['LANDMARKS', a, 'landmarks'],
  [`FF ${labelA}`, a, 'feed-forward'],
  [`FT ${labelA}`, a, 'fine-tuned'],
  ...(one
    ? []
    : ([
        [`FF ${labelB}`, b, 'feed-forward'],
        [`FT ${labelB}`, b, 'fine-tuned'],
      ] as [string, Map<string, RgbImage>, string][])),
  ['REAL', a, 'real'],
];
const small = a.get(people[0]!)!.height;
const r = small * scale;
const gap = 4;
const top = 44;
const im: RgbImage = {
  width: cols.length * (r + gap),
  height: top + people.length * (r + gap),
  data: new Uint8Array(cols.length * (r + gap) * (top + people.length * (r + gap)) * 3).fill(255),
};
drawText(im, `T = ${T}. FF / FT COLUMNS ARE SYNTHETIC (GENERATED), NOT PHOTOS.`, 2, 2);
cols.forEach(([title], j) => drawText(im, title.toUpperCase(), j * (r + gap) + 2, 16 + (j % 2) * 12));
people.forEach((p, i) => {
  cols.forEach(([, src, col], j) => {
    const s = src.get(p)!;
    const k = STRIP.indexOf(col);
    paste(im, upscale(cut(s, k * small, 0, small, small), scale), j * (r + gap), top + i * (r + gap));
  });
});
if (!existsSync(join(out, '..'))) throw new Error(`No folder for ${out}`);
writePng(out, im);
console.log(`${out}: ${people.length} people (${people.join(', ')})`);
