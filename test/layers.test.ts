// The folders of src/ are floors, each with one job: a file may import its own folder and the ones
// below it, never one above, and no chain of imports comes back to where it started.
// docs/architecture.md says what each floor is for; ORDER below is its table, bottom first.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

export const ORDER = [
  'core',
  'io',
  'engine',
  'media',
  'nn',
  'pretrained',
  'faces',
  'data',
  'synthetic',
  'models',
  'train',
  'animate',
  'eval',
  'demo',
  'serve',
  'cli',
];
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

/** Each source file's relative imports (value and type), as absolute .ts paths. */
function importGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files(SRC)) {
    const to = [...readFileSync(f, 'utf8').matchAll(/^(?:import|export) [^;]*? from '(\.[^']+)'/gms)].map(
      (m) => resolve(dirname(f), m[1]!).replace(/\.js$/, '.ts'),
    );
    g.set(f, to);
  }
  return g;
}

/** The import cycles of a graph: one per strongly connected component of more than one file. */
export function cycles(g: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative-free: the graph has a few hundred nodes.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test('every folder of src/ is a floor of docs/architecture.md', () => {
  const folders = readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !ORDER.includes(f)),
    [],
  );
  const doc = readFileSync('docs/architecture.md', 'utf8');
  assert.deepEqual(
    ORDER.filter((f) => !doc.includes(`\`${f}/\``)),
    [],
    'docs/architecture.md names each floor as `name/`',
  );
});

test('no folder of src/ imports one above it', () => {
  const wrong: string[] = [];
  const g = importGraph();
  assert.ok(g.size > 50, 'found the sources');
  for (const [f, to] of g) {
    const from = layer(f);
    for (const t of to) {
      if (ORDER.indexOf(layer(t)) > ORDER.indexOf(from))
        wrong.push(`${relative(SRC, f)} imports ${relative(SRC, t)} (${layer(t)} is above ${from})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycle in src/', () => {
  const found = cycles(importGraph()).map((c) => c.map((f) => relative(SRC, f)).join(' -> '));
  assert.deepEqual(found, []);
});

test('the cycle finder finds a cycle, and none in a chain', () => {
  const chain = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', []],
  ]);
  assert.deepEqual(cycles(chain), []);
  chain.set('c', ['a']);
  assert.deepEqual(cycles(chain), [['a', 'b', 'c']]);
});
