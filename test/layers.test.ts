// The folders of src/ are layers, each with one job: a file may import its own folder and the ones
// below it, never one above (style.md). io < engine < data < models < train < animate < eval < demo < serve < cli.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ORDER = ['io', 'engine', 'data', 'models', 'train', 'animate', 'eval', 'demo', 'serve', 'cli'];
const SRC = resolve('src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? files(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
}
const layer = (file: string) => relative(SRC, file).split('/')[0]!;

test('no folder of src/ imports one above it', () => {
  const wrong: string[] = [];
  const all = files(SRC);
  assert.ok(all.length > 50, 'found the sources');
  for (const f of all) {
    const from = layer(f);
    if (!ORDER.includes(from)) continue; // src/index.ts and the like
    for (const m of readFileSync(f, 'utf8').matchAll(/^import [^;]*? from '(\.[^']+)'/gms)) {
      const to = layer(resolve(dirname(f), m[1]!));
      if (ORDER.indexOf(to) > ORDER.indexOf(from))
        wrong.push(`${relative(SRC, f)} imports ${m[1]} (${to} is above ${from})`);
    }
  }
  assert.deepEqual(wrong, []);
});
