// The docs and the CLI agree: every option the README and docs/*.md show for a command is one that
// command declares (so its --help lists it), and `evaluate` declares the feature networks' weights.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AnimateCliOptions } from './animate.js';
import type { FineTuneCliOptions } from './finetune.js';
import { buildProgram } from './main.js';

/** (command, option) pairs from `talking-heads CMD ... --opt` in the docs, line by line. */
function documentedOptions(): { file: string; command: string; subcommand: string; option: string }[] {
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: { file: string; command: string; subcommand: string; option: string }[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      // a command may continue over lines ending in a backslash
      let line = lines[i]!;
      while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!;
      for (const m of line.matchAll(/talking-heads ([a-z-]+)((?: +[^`|;&#]*)?)/g)) {
        const command = m[1]!;
        const subcommand = /^ +([a-z-]+)/.exec(m[2] ?? '')?.[1] ?? '';
        for (const o of (m[2] ?? '').matchAll(/(?:^|[\s[(])(--[a-z][a-z0-9-]*)/g))
          out.push({ file, command, subcommand, option: o[1]! });
      }
    }
  }
  return out;
}

test('every option the README and docs show for a command is declared by it', () => {
  const program = buildProgram();
  const commands = new Map(program.commands.map((c) => [c.name(), c]));
  const wrong: string[] = [];
  const seen = documentedOptions();
  assert.ok(seen.length > 50, `found the documented options (${seen.length})`);
  for (const { file, command, subcommand, option } of seen) {
    let c = commands.get(command);
    if (!c) continue; // prose like "talking-heads is ..." or a script name
    const sub = c.commands.find((x) => x.name() === subcommand);
    if (sub) c = sub;
    const known =
      c.options.some((o) => o.long === option || o.long === option.replace(/^--no-/, '--')) ||
      option === '--help' ||
      c.options.some((o) => o.negate && o.long === option);
    if (!known) wrong.push(`${file}: talking-heads ${command} ${option}`);
  }
  assert.deepEqual([...new Set(wrong)], []);
});

test('evaluate --help lists --inception and --arcface', () => {
  const evaluate = buildProgram().commands.find((c) => c.name() === 'evaluate')!;
  const help = evaluate.helpInformation();
  assert.match(help, /--inception <file>/);
  assert.match(help, /--arcface <file>/);
});

test('numeric options are refused before any work: --fps 0, a negative rate', () => {
  const animate = buildProgram()
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .commands.find((c) => c.name() === 'animate')!;
  animate.exitOverride().configureOutput({ writeErr: () => {} });
  assert.throws(
    () => animate.parse(['--model', 'm', '--driver', 'd', '-o', 'o.mp4', '--fps', '0'], { from: 'user' }),
    /--fps.*expected a number in \(0, 240\], got "0"/,
  );
});

test('options are typed from their declarations: reading one a command does not declare does not compile', () => {
  const animate = { model: 'm', driver: 'd', out: 'o.mp4' } as AnimateCliOptions;
  const fineTune = { model: 'm', out: 'p.safetensors' } as FineTuneCliOptions;
  // @ts-expect-error: animate declares no --frobnicate (npm test's typecheck fails if this compiles)
  assert.equal(animate.frobnicate, undefined);
  // @ts-expect-error: fine-tune declares no --frobnicate
  assert.equal(fineTune.frobnicate, undefined);
  assert.equal(animate.model, 'm');
});
