// Loss curves of one or more run folders as a PNG (the model card's plot). Runs given in order are
// drawn one after the other on one step axis (a run continued from another's model with --init),
// with a marker where each later run starts.
//   npx tsx scripts/plot-metrics.ts OUT.png RUN [RUN...] [--smooth 200]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { plotPanel, smooth, stack, type Series } from '../src/media/plot.js';
import { writePng } from '../src/media/png.js';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: { smooth: { type: 'string', default: '200' } },
});
const [out, ...runs] = positionals;
if (!out || runs.length === 0) {
  console.error('usage: npx tsx scripts/plot-metrics.ts OUT.png RUN [RUN...] [--smooth 200]');
  process.exit(2);
}
type Row = Record<string, number>;
const rows: Row[] = [];
const marks: { x: number; label: string }[] = [];
let offset = 0;
for (const [i, run] of runs.entries()) {
  const lines = readFileSync(`${run}/metrics.jsonl`, 'utf8').trim().split('\n');
  const rs = lines.map((l) => JSON.parse(l) as Row);
  if (i > 0) marks.push({ x: offset, label: `CONTINUED: ${basename(run).toUpperCase()}` });
  for (const r of rs) rows.push({ ...r, step: r['step']! + offset });
  offset += rs[rs.length - 1]!['step']!;
}
const k = Math.max(1, Math.round(Number(o.smooth) / 10)); // metrics are logged every 10 steps
const x = rows.map((r) => r['step']!);
const series = (
  name: string,
  key: string,
  color: readonly [number, number, number],
  f = (v: number) => v,
): Series => ({
  name,
  x,
  y: smooth(
    rows.map((r) => f(r[key] ?? NaN)),
    k,
  ),
  color,
});
const W = 720;
const png = stack([
  plotPanel([series('PIXEL L1', 'pixel', [30, 90, 200])], {
    title: 'CONTENT: PIXEL L1 (TRAIN EPISODES)',
    width: W,
    marks,
  }),
  plotPanel(
    [
      series('-D(FAKE)', 'adv', [200, 60, 40]),
      series('D(REAL)', 'dReal', [40, 150, 60]),
      series('FM', 'fm', [140, 80, 180]),
    ],
    { title: 'ADVERSARIAL: REALISM SCORES, FEATURE MATCHING', width: W, marks },
  ),
  plotPanel([series('L_EG', 'lossEG', [60, 60, 60]), series('L_DSC', 'lossD', [200, 130, 20])], {
    title: 'TOTAL LOSSES OF E+G AND D',
    width: W,
    marks,
  }),
]);
writePng(out, png);
console.log(`Wrote ${out} (${rows.length} logged steps, smoothed over ${k * 10} steps)`);
