/**
 * `npm run bench:scaling`: data-parallel meta-learning on this machine (issue 14, docs/scaling.md).
 *
 *   npm run bench:scaling -- [--presets small,medium] [--steps 8] [--k 8] [--json out.json] [--model-only]
 *
 * For each preset it reports
 *  - bytes per step: what one rank puts into the step's collectives (E+G gradients once, D's dense
 *    gradients dSteps times, the W columns of its episodes, the metrics), counted from the networks'
 *    shapes, for the given number of training videos (VoxCeleb2: 145,569) — and what a dense W
 *    exchange would have cost instead;
 *  - all-reduce time of that many bytes between 2 ranks here (Open MPI, shared memory);
 *  - meta-learning steps (batch 1 per rank, K 8, one thread per rank): 1 process vs 2 MPI ranks,
 *    seconds per step, seconds of it in collectives (waiting for the slower rank included),
 *    episodes per second; and, as the control, two independent 1-process runs at once (how much
 *    two busy cores of this machine slow each other down, with no communication at all).
 * Needs Open MPI and the addon for the measured part; the byte counts print without them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSyntheticDataset } from '../src/synthetic/write.js';
import { initEngine } from '../src/engine/backend.js';
import { loadMpiAddon, mpiLoadError, mpirunEnv } from '../src/engine/mpi.js';
import { tf } from '../src/engine/tf.js';
import { flatten, type ParamTree } from '../src/nn/params.js';
import { preset } from '../src/models/presets.js';
import { PAPER_OPTIM } from '../src/train/adversarial.js';
import { initMetaParams } from '../src/train/meta_step.js';

const VOXCELEB2_VIDEOS = 145_569;

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'small,medium' },
    steps: { type: 'string', default: '8' },
    k: { type: 'string', default: '8' },
    json: { type: 'string' },
    'model-only': { type: 'boolean', default: false },
  },
});
const presets = args.presets.split(',');
const steps = Number(args.steps);
const k = Number(args.k);

export interface Traffic {
  preset: string;
  /** parameters of E+G, D without W, rows of W */
  eg: number;
  dDense: number;
  wRows: number;
  /** bytes one rank sends per step with batch b per rank (W sparse) */
  bytesPerStep: number;
  /** the same with W exchanged densely for `videos` training videos */
  bytesDenseW: number;
}

/** What one rank exchanges per step, from the networks' shapes (distributed.ts's layout). */
function traffic(name: string, batchPerRank: number, videos: number): Traffic {
  const c = preset(name);
  const { params, sn } = initMetaParams(c, 1, 0);
  const size = (t: ParamTree, f: (p: string) => boolean) =>
    [...flatten(t)].filter(([p]) => f(p)).reduce((n, [, x]) => n + x.size, 0);
  const eg = size(params, (p) => p.startsWith('E.') || p.startsWith('G.'));
  const dDense = size(params, (p) => p.startsWith('D.') && p !== 'D.proj.W');
  const wRows = c.embedding;
  tf.dispose([...flatten(params).values(), ...flatten(sn).values()]);
  const d = PAPER_OPTIM.dSteps;
  const metrics = 12 * 8;
  const sparseW = batchPerRank * (wRows + 1) * 4;
  return {
    preset: name,
    eg,
    dDense,
    wRows,
    bytesPerStep: 4 * eg + d * (4 * dDense + sparseW) + metrics + 8,
    bytesDenseW: 4 * eg + d * 4 * (dDense + wRows * videos) + metrics + 8,
  };
}

const MPI_ENV = mpirunEnv();
const TSX = ['--import', 'tsx'];

/** Seconds of one all-reduce (sum, in place) of `bytes` between 2 ranks: median of 7 after 2. */
function allreduceSeconds(bytes: number): number {
  const r = spawnSync(
    'mpirun',
    ['--oversubscribe', '-np', '2', process.execPath, ...TSX, join('bench', 'allreduce.ts'), String(bytes)],
    { encoding: 'utf8', env: MPI_ENV },
  );
  const m = /ALLREDUCE (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`all-reduce run failed:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

interface StepRecord {
  /** '1 process', '2 ranks', or '2 processes' (two independent 1-process runs at once: the control) */
  setup: string;
  ranks: number;
  secondsPerStep: number;
  commSeconds: number;
  commBytes: number;
  episodesPerSecond: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: MPI_ENV });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (text += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${cmd} failed:\n${text}`))));
  });
}

/** Per-step records of a finished run (steps 3 and on). */
function stepsOf(out: string): Record<string, number>[] {
  const dir = join(out, readdirSync(out).sort().at(-1)!);
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>)
    .slice(2);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** meta-train for `steps` steps in `setup`; medians over the logged steps after the first two. */
async function trainSteps(
  data: string,
  name: string,
  setup: StepRecord['setup'],
  out: string,
): Promise<StepRecord> {
  const args = (o: string) => {
    const config = `${o}.json`;
    writeFileSync(config, JSON.stringify({ data, logEvery: 1 }));
    return [
      ...TSX,
      join('test', 'helpers', 'cli.ts'),
      'meta-train',
      '--config',
      config,
      '--preset',
      name,
      '--k',
      String(k),
      '--batch',
      '1',
      '--steps',
      String(steps),
      '--holdout',
      '0',
      '--threads',
      '1',
      '--sample-every',
      '100000',
      '--checkpoint-every',
      '100000',
      '-o',
      o,
    ];
  };
  let rows: Record<string, number>[];
  if (setup === '1 process') {
    await run(process.execPath, args(out));
    rows = stepsOf(out);
  } else if (setup === '2 ranks') {
    await run('mpirun', [
      '--oversubscribe',
      '-np',
      '2',
      process.execPath,
      ...args(out),
      '--distributed',
      'mpi',
    ]);
    rows = stepsOf(out);
  } else {
    await Promise.all([run(process.execPath, args(`${out}-a`)), run(process.execPath, args(`${out}-b`))]);
    rows = [...stepsOf(`${out}-a`), ...stepsOf(`${out}-b`)];
  }
  const s = median(rows.map((x) => x['secondsPerStep']!));
  const ranks = setup === '1 process' ? 1 : 2;
  return {
    setup,
    ranks,
    secondsPerStep: s,
    commSeconds: median(rows.map((x) => x['commSeconds'] ?? 0)),
    commBytes: median(rows.map((x) => x['commBytes'] ?? 0)),
    episodesPerSecond: ranks / s,
  };
}

await initEngine({ backend: 'cpu' });
const mb = (b: number) => (b / 1e6).toFixed(1);
const report: Record<string, unknown>[] = [];
const haveMpi =
  !args['model-only'] && loadMpiAddon() !== null && spawnSync('mpirun', ['--version']).status === 0;
if (!haveMpi && !args['model-only'])
  console.log(`MPI not available (${mpiLoadError() || 'no mpirun'}): byte counts and the model only\n`);

console.log('Bytes one rank exchanges per step (batch 1 per rank; W sparse vs dense at VoxCeleb2 size)');
console.log('preset   E+G params   D params (no W)   MB/step   MB/step, dense W (145,569 videos)');
const allPresets = [...new Set([...presets, 'paper'])];
const traffics = allPresets.map((p) => traffic(p, 1, VOXCELEB2_VIDEOS));
for (const t of traffics)
  console.log(
    `${t.preset.padEnd(8)} ${String(t.eg).padStart(11)}   ${String(t.dDense).padStart(15)}   ${mb(t.bytesPerStep).padStart(7)}   ${mb(t.bytesDenseW).padStart(8)}`,
  );

if (haveMpi) {
  console.log("\nAll-reduce of one step's bytes between 2 ranks on this machine (shared memory)");
  for (const t of traffics) {
    const s = allreduceSeconds(t.bytesPerStep);
    console.log(
      `${t.preset.padEnd(8)} ${mb(t.bytesPerStep).padStart(7)} MB  ${s.toFixed(4)} s  ${(t.bytesPerStep / s / 1e9).toFixed(2)} GB/s`,
    );
    report.push({ kind: 'allreduce', preset: t.preset, bytes: t.bytesPerStep, seconds: s });
  }
  const tmp = mkdtempSync(join(tmpdir(), 'scaling-'));
  try {
    console.log(
      `\nMeta-learning steps, batch 1 per rank, K ${k}, one thread per rank (median of steps 3-${steps})`,
    );
    console.log('preset   setup          s/step   s in collectives   MB/step   episodes/s   vs 1 process');
    for (const name of presets) {
      const c = preset(name);
      const data = join(tmp, `data-${c.resolution}`);
      await writeSyntheticDataset({
        out: data,
        identities: 8,
        sequences: 2,
        frames: k + 4,
        size: c.resolution,
        seed: 1,
        frameStep: 2,
        firstIdentity: 0,
        workers: 2,
      });
      const recs: StepRecord[] = [];
      for (const setup of ['1 process', '2 ranks', '2 processes'] as const)
        recs.push(await trainSteps(data, name, setup, join(tmp, `${name}-${setup.replace(' ', '-')}`)));
      for (const r of recs) {
        console.log(
          `${name.padEnd(8)} ${r.setup.padEnd(12)} ${r.secondsPerStep.toFixed(3).padStart(8)}   ${r.commSeconds.toFixed(4).padStart(16)}   ${mb(r.commBytes).padStart(7)}   ${r.episodesPerSecond.toFixed(2).padStart(10)}   ${(r.episodesPerSecond / recs[0]!.episodesPerSecond).toFixed(2)}x`,
        );
        report.push({ kind: 'steps', preset: name, k, ...r });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
for (const t of traffics) report.push({ kind: 'traffic', ...t, videos: VOXCELEB2_VIDEOS });

// ---- the model (docs/scaling.md): ring all-reduce per step t(N) = 2(N-1)/N * B / bw + 2(N-1) * c * alpha,
// c = the calls of a step (4 MB pieces), against a step's compute Tc (no overlap: the step waits).
const paper = traffics.find((t) => t.preset === 'paper')!;
// E/G with the first D update in one all-reduce, then each further D update; an all-gather of W's
// columns per D update; the metrics and the go-on decision.
const piece = 2 ** 20;
const calls =
  Math.ceil((paper.eg + paper.dDense) / piece) +
  (PAPER_OPTIM.dSteps - 1) * Math.ceil(paper.dDense / piece) +
  PAPER_OPTIM.dSteps +
  2;
const links = [
  { name: '10 GbE', bw: 1.25e9, alpha: 20e-6 },
  { name: '25 GbE', bw: 3.125e9, alpha: 10e-6 },
  { name: 'IB 100 Gb/s', bw: 12.5e9, alpha: 2e-6 },
];
const computes = [
  { name: '2-core VM (measured here)', tc: 30.4 },
  { name: '32-core CPU node (assumed)', tc: 2 },
  { name: 'V100-class GPU (assumed)', tc: 0.25 },
];
const nodes = [2, 4, 8, 16, 64, 256];
const commS = (n: number, l: (typeof links)[number]) =>
  ((2 * (n - 1)) / n) * (paper.bytesPerStep / l.bw) + 2 * (n - 1) * calls * l.alpha;
console.log(
  `\nModel, paper preset (${mb(paper.bytesPerStep)} MB per step, ${calls} calls): share of a step in communication`,
);
console.log(
  `${'node compute per step'.padEnd(34)} ${'link'.padEnd(12)} ${nodes.map((n) => `N=${n}`.padStart(7)).join('')}`,
);
const model: Record<string, unknown>[] = [];
for (const c of computes)
  for (const l of links) {
    const share = nodes.map((n) => commS(n, l) / (c.tc + commS(n, l)));
    console.log(
      `${`${c.name} ${c.tc} s`.padEnd(34)} ${l.name.padEnd(12)} ${share.map((x) => `${(100 * x).toFixed(0)}%`.padStart(7)).join('')}`,
    );
    model.push({
      compute: c.name,
      tc: c.tc,
      link: l.name,
      nodes,
      commSeconds: nodes.map((n) => commS(n, l)),
      share,
    });
  }
report.push({ kind: 'model', bytesPerStep: paper.bytesPerStep, calls, rows: model });
if (args.json) {
  writeFileSync(
    args.json,
    JSON.stringify({ date: new Date().toISOString(), records: report }, null, 2) + '\n',
  );
  console.log(`\nwrote ${args.json}`);
}
