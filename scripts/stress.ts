/**
 * `npm run stress`: the long commands killed with SIGKILL at random moments (issue 24). For each
 * command, `--kills` runs are started on tiny inputs and killed after a random part of the time a full
 * run takes; then:
 *
 *   - preprocess, evaluate, meta-train (resumable): run again to the end (`--resume`, the same -o, or
 *     `--resume RUN`) and check the result is complete and loads;
 *   - fine-tune, animate (one output file): the asked output either does not exist or is complete
 *     (it loads / decodes); nothing half-written sits under its name.
 *
 * Prints a table (per command: kills, resumed or clean, lost) and writes it as JSON with --json.
 *
 * Then runs scripts/serve-load.ts (`serve` under load).
 *
 *   npm run stress -- [--kills 5] [--seed 1] [--json FILE]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../src/engine/rng.js';

const { values: args } = parseArgs({
  options: {
    kills: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const KILLS = Number(args.kills);
const rng = new Rng(Number(args.seed));
const CLI = resolve('bin/talking-heads.js');
const dir = join(tmpdir(), `nth-stress-${process.pid}`);
mkdirSync(dir, { recursive: true });
const env = { ...process.env, TALKING_HEADS_THREADS: '1' };

/** Runs the CLI to the end; throws with its output on failure. */
function run(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...argv], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`talking-heads ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** Starts the CLI and kills it with SIGKILL after `seconds`; resolves when it is gone. */
function killAfter(argv: string[], seconds: number): Promise<'killed' | 'finished'> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [CLI, ...argv], { env, stdio: 'ignore' });
    const timer = setTimeout(() => p.kill('SIGKILL'), seconds * 1000);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      res(signal === 'SIGKILL' ? 'killed' : code === 0 ? 'finished' : 'finished');
    });
  });
}

/** Whether a CLI check passes (exit 0). */
const ok = (argv: string[]) =>
  spawnSync(process.execPath, [CLI, ...argv], { env, encoding: 'utf8' }).status === 0;

interface Row {
  command: string;
  kills: number;
  /** killed before the end (the rest finished before the kill landed) */
  interrupted: number;
  /** afterwards: resumed to a complete result, or no file / a complete file under the asked name */
  good: number;
  lost: number;
  /** temporary files a killed run left beside the asked output (never under its name) */
  leftovers: number;
  fullSeconds: number;
}
const rows: Row[] = [];

/**
 * One command under kills: `args(out)` is its command line writing to `out` (`outFor('full')` for the
 * timing run, `outFor(i)` for attempt i); `after(out, argv, i)` says whether nothing was lost.
 */
async function probe(
  command: string,
  args: (out: string) => string[],
  outFor: (tag: string) => string,
  after: (out: string, argv: string[], i: number) => boolean,
): Promise<void> {
  if (process.env['STRESS_ONLY'] === 'disk') return; // working on the disk probe alone
  const fullSeconds = run(args(outFor('full')));
  const row: Row = { command, kills: 0, interrupted: 0, good: 0, lost: 0, leftovers: 0, fullSeconds };
  for (let i = 0; i < KILLS; i++) {
    const out = outFor(String(i));
    const argv = args(out);
    const when = 0.3 + rng.next() * fullSeconds;
    const how = await killAfter(argv, when);
    row.kills++;
    if (how === 'killed') row.interrupted++;
    const left = readdirSync(dir).filter((f) => f.includes('.tmp-'));
    row.leftovers += left.length;
    for (const f of left) rmSync(join(dir, f), { recursive: true });
    let good = false;
    try {
      good = after(out, argv, i);
    } catch (e) {
      console.error(`${command} #${i}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (good) row.good++;
    else row.lost++;
    console.log(`${command} #${i}: killed at ${when.toFixed(1)} s (${how}) -> ${good ? 'ok' : 'LOST'}`);
  }
  rows.push(row);
}

// Tiny inputs: a procedural dataset, a tiny meta-trained model, a person.
const data = join(dir, 'synth');
run([
  'synth',
  '-o',
  data,
  '--identities',
  '4',
  '--sequences',
  '1',
  '--frames',
  '12',
  '--size',
  '32',
  '--workers',
  '1',
]);
run([
  'meta-train',
  '--data',
  data,
  '--preset',
  'tiny',
  '--steps',
  '4',
  '--k',
  '2',
  '--batch',
  '1',
  '--holdout',
  '0',
  '--out',
  join(dir, 'runs0'),
]);
const run0 = join(dir, 'runs0', readdirSync(join(dir, 'runs0'))[0]!);
const model = join(dir, 'tiny.safetensors');
run(['export-model', '--model', run0, '-o', model]);
const person = join(dir, 'person.safetensors');
run([
  'fine-tune',
  '--model',
  model,
  '--data',
  data,
  '--video-index',
  '1',
  '-T',
  '2',
  '--epochs',
  '2',
  '-o',
  person,
  '--runs',
  join(dir, 'ftruns'),
]);
const clip = resolve('assets/demo/grid/sbia1a.mp4');

// Each command's line writing to `out`, shared by the kills and the full disk.
const metaTrainArgs = (out: string, steps = 200) => [
  ...['meta-train', '--data', data, '--preset', 'tiny', '--steps', String(steps)],
  ...['--k', '2', '--batch', '1', '--holdout', '0', '--checkpoint-every', '20', '--out', out],
];
const preprocessArgs = (out: string) => [
  ...['preprocess', clip, '-o', out, '--resolution', '32', '--fps', '25', '--workers', '1'],
];
const evaluateArgs = (out: string, videos = 4, epochs = 20) => [
  ...['evaluate', '--model', model, '--data', data, '--videos', String(videos)],
  ...['-T', '1', '--frames', '4', '--epochs', String(epochs), '-o', out],
];
const fineTuneArgs = (out: string, epochs = 150) => [
  ...['fine-tune', '--model', model, '--data', data, '--video-index', '2', '-T', '2'],
  ...['--epochs', String(epochs), '-o', out, '--runs', join(dir, 'ftruns')],
];
const animateArgs = (out: string, ...extra: string[]) => [
  ...['animate', '--model', person, '--driver', clip, ...extra, '-o', out],
];

await probe(
  'meta-train',
  (out) => metaTrainArgs(out),
  (tag) => join(dir, `mt-${tag}`),
  (out, _argv, i) => {
    if (!existsSync(out) || readdirSync(out).length === 0) return true; // killed before the run folder: nothing to lose
    const r = join(out, readdirSync(out)[0]!);
    if (readdirSync(join(r, 'checkpoints')).filter((f) => f.startsWith('step-')).length === 0) return true;
    run(['meta-train', '--resume', r]);
    return ok(['export-model', '--model', r, '-o', join(dir, `mt-${i}.safetensors`)]);
  },
);

await probe(
  'preprocess',
  preprocessArgs,
  (tag) => join(dir, `pp-${tag}`),
  (out, argv, i) => {
    run(existsSync(join(out, 'manifest.json')) ? [...argv, '--resume'] : argv);
    return ok(['show', out, '-o', join(dir, `pp-${i}.png`)]);
  },
);

await probe(
  'evaluate',
  (out) => evaluateArgs(out),
  (tag) => join(dir, `ev-${tag}`),
  (out, argv) => (run(argv), existsSync(join(out, 'evaluation.json'))),
);

await probe(
  'fine-tune',
  (out) => fineTuneArgs(out),
  (tag) => join(dir, `ft-${tag}.safetensors`),
  // the asked file is absent, or a complete personal model (animate loads it)
  (out, _argv, i) =>
    !existsSync(out) || ok(['animate', '--model', out, '--driver', data, '-o', join(dir, `ft-${i}-check`)]),
);

await probe(
  'animate',
  (out) => animateArgs(out),
  (tag) => join(dir, `an-${tag}.mp4`),
  (out) => !existsSync(out) || ok(['compare', out, join(dir, 'an-full.mp4')]),
);

// ---- a full disk: each writer's output on a tmpfs of a few KB (root only; skipped with the reason)
interface DiskRow {
  command: string;
  /** refused with a message naming the disk being full and the path */
  said: boolean;
  /** a file that was there before is intact, and nothing else is left on the disk */
  intact: boolean;
}
const disk: DiskRow[] = [];
const fs = join(dir, 'full');
mkdirSync(fs, { recursive: true });
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', fs]).status === 0;
if (!mounted) console.log('\nFull disk: skipped (mounting a small tmpfs needs root)');
else {
  const probes: [string, string[]][] = [
    ['fine-tune', fineTuneArgs(join(fs, 'p.safetensors'), 2)],
    ['animate', animateArgs(join(fs, 'a.mp4'), '--scale', '8')],
    ['animate (PNG frames)', animateArgs(join(fs, 'frames'), '--scale', '8')],
    ['preprocess', preprocessArgs(join(fs, 'pp'))],
    ['evaluate', evaluateArgs(join(fs, 'ev'), 2, 2)],
    ['meta-train', metaTrainArgs(join(fs, 'runs'), 4)],
    ['export-model', ['export-model', '--model', model, '-o', join(fs, 'm.safetensors')]],
  ];
  try {
    for (const [command, argv] of probes) {
      for (const f of readdirSync(fs)) rmSync(join(fs, f), { recursive: true, force: true });
      writeFileSync(join(fs, 'keep.txt'), 'an earlier output\n');
      // fill the disk but a few KB
      const pad = Buffer.alloc(1024);
      let k = 0;
      for (; ; k++) {
        try {
          writeFileSync(join(fs, `pad-${k}`), pad);
        } catch {
          break;
        }
      }
      for (let j = 0; j < Math.min(k, 2); j++) rmSync(join(fs, `pad-${j}`), { force: true });
      const r = spawnSync(process.execPath, [CLI, ...argv], { env, encoding: 'utf8' });
      const err = r.stderr ?? '';
      const said = r.status !== 0 && /disk is full|no space left/i.test(err) && err.includes(fs);
      // one-file writers leave nothing; resumable ones may keep what they finished, never a temp file
      const resumable = ['preprocess', 'evaluate', 'meta-train'].includes(command);
      const all = readdirSync(fs, { recursive: true }).map(String);
      const left = all.filter((f) =>
        resumable ? f.includes('.tmp-') : f !== 'keep.txt' && !f.startsWith('pad-'),
      );
      const intact =
        readFileSync(join(fs, 'keep.txt'), 'utf8') === 'an earlier output\n' && left.length === 0;
      disk.push({ command, said, intact });
      console.log(
        `full disk, ${command}: exit ${r.status}; ${said ? 'said so' : 'DID NOT SAY'}; ${intact ? 'nothing left' : `LEFT ${left.join(', ')}`}\n  ${err.trim().split('\n').at(-1)}`,
      );
    }
  } finally {
    spawnSync('umount', [fs]);
  }
}

console.log(
  '\n| command | kills | killed mid-run | resumed or clean | lost | temp files left | one full run |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.command} | ${r.kills} | ${r.interrupted} | ${r.good} | ${r.lost} | ${r.leftovers} | ${r.fullSeconds.toFixed(1)} s |`,
  );
if (disk.length) {
  console.log('\n| writer on a full disk | said so, naming the path | earlier output intact, nothing left |');
  console.log('| --- | --- | --- |');
  for (const d of disk)
    console.log(`| ${d.command} | ${d.said ? 'yes' : 'NO'} | ${d.intact ? 'yes' : 'NO'} |`);
}
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify({ date: new Date().toISOString(), rows, fullDisk: disk }, null, 1) + '\n',
  );
rmSync(dir, { recursive: true, force: true });
// then `serve` under load (its own script: npm run stress:serve runs it alone)
const serveLoad = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'scripts/serve-load.ts'], {
  stdio: 'inherit',
});
process.exitCode =
  serveLoad.status !== 0 || rows.some((r) => r.lost > 0) || disk.some((d) => !d.said || !d.intact) ? 1 : 0;
