// Runs every *.test.ts under test/ and src/ with Node's test runner (Node 20 has no glob support in
// `node --test`). Extra arguments are passed through, e.g. `npm test -- --test-name-pattern=adam`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...find(p));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = ['src', 'test'].flatMap((d) => find(d)).sort();
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(2), ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
