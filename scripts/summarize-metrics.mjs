// Prints a run's losses averaged over windows of steps (for notes and docs):
//   node scripts/summarize-metrics.mjs runs/00000-meta-small-ft [window=100]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, windowArg] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node scripts/summarize-metrics.mjs RUN_DIR [window]');
  process.exit(2);
}
const window = Number(windowArg ?? 100);
const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const keys = ['lossEG', 'pixel', 'adv', 'fm', 'mch', 'eAlive', 'lossD', 'dReal', 'dFake', 'secondsPerStep'];
console.log(['steps', ...keys].map((k) => k.padStart(10)).join(' '));
for (let start = 0; start <= rows[rows.length - 1].step; start += window) {
  const w = rows.filter((r) => r.step > start && r.step <= start + window);
  if (w.length === 0) continue;
  const avg = (k) => w.reduce((s, r) => s + (r[k] ?? NaN), 0) / w.length;
  console.log(
    [`${start + 1}-${start + window}`.padStart(10), ...keys.map((k) => avg(k).toFixed(3).padStart(10))].join(
      ' ',
    ),
  );
}
