/**
 * `npm run bench`: seconds per training step on each backend, with spread, achieved GFLOP/s and peak
 * memory. Each (case, backend) runs in its own process so peak RSS is its own. Prints a table and,
 * with --json FILE, one record per case: {case, backend, resolution, batch, k, secondsPerStep
 * (median), runs, min, max, gflops, peakRssMB}.
 *
 *   npm run bench -- [--cases a,b] [--backends native,wasm,cpu,pytorch] [--runs 5] [--warmup 3] [--threads 2]
 *                    [--json out.json] [--profile] [--skip-pytorch]
 *
 * `native:avx2` / `native:baseline` run the native backend with our own kernels' AVX2 or baseline
 * build instead of the CPU's best (NTH_ISA, native/isa.h): beside `native`, what AVX-512 gives.
 * `native:f32` runs inference in float32 where `native` would use bf16 (engine/precision.ts);
 * `native:bf16` runs training steps as `--precision bf16` does.
 *
 * The PyTorch reference (bench/reference/, Debian's python3-torch) runs the same step with the
 * default BLAS and with OpenBLAS loaded for its process; the faster one is recorded as `pytorch`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, nativeAvailable, tensorflowAvailable } from '../src/engine/backend.js';
import { nativeIsa } from '../src/engine/native.js';
import { inferencePrecision, trainingPrecision } from '../src/engine/precision.js';
import { profileKernels } from '../src/engine/profile.js';
import { CASES, type BenchCase } from './cases.js';

/** Debian's python3-torch; BLAS variants loaded per process (Debian's default BLAS is slow for batched matmul). */
const PYTHON = '/usr/bin/python3';
const BLAS: Record<string, string> = {
  'default-blas': '/usr/lib/x86_64-linux-gnu/blas',
  openblas: '/usr/lib/x86_64-linux-gnu/openblas-pthread',
};

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** Runs the PyTorch reference in each BLAS configuration that exists; returns the fastest. */
function runPytorch(
  c: BenchCase,
  runs: number,
  warmup: number,
  threads: number,
  flopsPerStep: number,
): (BenchRecord & { blas: string }) | null {
  if (!c.pytorch) return null;
  let best: (BenchRecord & { blas: string }) | null = null;
  for (const [blas, dir] of Object.entries(BLAS)) {
    if (!existsSync(dir)) continue;
    const r = spawnSync(
      PYTHON,
      [
        c.pytorch.script,
        ...c.pytorch.args,
        '--runs',
        String(runs),
        '--warmup',
        String(warmup),
        '--threads',
        String(threads),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, LD_LIBRARY_PATH: dir },
      },
    );
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (r.status !== 0 || !line) {
      console.log(`  ${c.name} on pytorch (${blas}): FAILED ${r.stderr.trim().split('\n').pop() ?? ''}`);
      continue;
    }
    const o = JSON.parse(line.slice(7)) as {
      secondsPerStep: number;
      min: number;
      max: number;
      peakRssMB: number;
    };
    const rec = {
      case: c.name,
      backend: 'pytorch',
      blas,
      resolution: c.resolution,
      batch: c.batch,
      k: c.k,
      secondsPerStep: o.secondsPerStep,
      runs,
      min: o.min,
      max: o.max,
      gflops: flopsPerStep / o.secondsPerStep / 1e9,
      peakRssMB: o.peakRssMB,
    };
    console.log(`    (pytorch with ${blas}: ${o.secondsPerStep.toFixed(3)} s/step)`);
    if (!best || rec.secondsPerStep < best.secondsPerStep) best = rec;
  }
  return best;
}

export interface BenchRecord {
  case: string;
  backend: string;
  resolution: number;
  batch: number;
  k: number;
  secondsPerStep: number;
  runs: number;
  min: number;
  max: number;
  gflops: number;
  peakRssMB: number;
  /** training FLOPs of one step (3x the forward's multiply-adds x 2) */
  flopsPerStep?: number;
  /** what the step time means for a user (seconds per fine-tune, frames per second) */
  summary?: string;
  /** native: the instruction set our own kernels ran (native/isa.h) */
  isa?: string;
  /** native: inference's precision (engine/precision.ts; training steps are float32 regardless) */
  precision?: string;
}

/** `native:avx2`, `native:baseline`: that build of our kernels; `native:f32`: float32 inference. */
function variantEnv(backend: string): Record<string, string> {
  const v = backend.split(':')[1];
  if (v === undefined || v === 'bf16') return {};
  return v === 'f32' ? { TALKING_HEADS_PRECISION: 'f32' } : { NTH_ISA: v };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs in the child: `warmup` untimed steps, then `runs` timed steps. Several warm-up steps, because
 * the first ones create oneDNN primitives, fill the native buffer pool and let V8 optimise the
 * step's JavaScript: a long training run sees the steady state, not those.
 */
async function worker(
  caseName: string,
  backend: string,
  runs: number,
  warmup: number,
  threads: number,
  profile: boolean,
): Promise<void> {
  const [engine, variant] = backend.split(':') as [string, string | undefined];
  await initEngine({ backend: engine, threads });
  // native:bf16: training and fine-tuning steps with --precision bf16
  if (variant === 'bf16') trainingPrecision('bf16', (s) => process.stderr.write(s + '\n'));
  const c = CASES.find((x) => x.name === caseName)!;
  const w = c.build(1);
  for (let i = 0; i < warmup; i++) w.step();
  const prof = profile ? profileKernels(backend) : null;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    w.step();
    times.push((performance.now() - t0) / 1000);
  }
  if (prof) {
    process.stderr.write(`\n[${caseName} on ${backend}]\n${prof.table(runs)}\n`);
    prof.stop();
  }
  w.dispose();
  const med = median(times);
  const rec: BenchRecord = {
    case: c.name,
    backend,
    resolution: c.resolution,
    batch: c.batch,
    k: c.k,
    secondsPerStep: med,
    runs,
    min: Math.min(...times),
    max: Math.max(...times),
    gflops: w.flopsPerStep / med / 1e9,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    flopsPerStep: w.flopsPerStep,
    ...(engine === 'native' ? { isa: nativeIsa().active, precision: inferencePrecision().precision } : {}),
    ...(c.summary ? { summary: c.summary(med) } : {}),
  };
  process.stdout.write(`RESULT ${JSON.stringify(rec)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      backends: { type: 'string' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '3' },
      json: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'skip-pytorch': { type: 'boolean', default: false },
      threads: { type: 'string', default: String(availableParallelism()) },
      worker: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`--runs must be a positive integer, got ${values.runs}`);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(warmup) || warmup < 1)
    throw new RangeError(`--warmup must be a positive integer, got ${values.warmup}`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`--threads must be a positive integer, got ${values.threads}`);
  if (values.worker) {
    const [caseName, backend] = values.worker.split('@') as [string, string];
    await worker(caseName, backend, runs, warmup, threads, values.profile);
    return;
  }
  const withTorch = !values['skip-pytorch'] && torchAvailable();
  const available = [
    ...(nativeAvailable() ? ['native'] : []),
    'wasm',
    'cpu',
    ...((await tensorflowAvailable()) ? ['tensorflow'] : []),
  ];
  const wantBackends = values.backends ? values.backends.split(',') : null;
  const wantCases = values.cases ? values.cases.split(',') : null;
  for (const n of wantCases ?? []) {
    if (!CASES.some((c) => c.name === n))
      throw new RangeError(`Unknown case "${n}". Cases: ${CASES.map((c) => c.name).join(', ')}`);
  }
  const records: BenchRecord[] = [];
  const self = fileURLToPath(import.meta.url);
  console.log(
    `training-step benchmark: median of ${runs} runs after ${warmup} warm-up steps (cpu runs 2), ${threads} threads, each case in its own process`,
  );
  // Cases with no default backends (the paper preset: minutes per step) run only when named.
  for (const c of CASES.filter((x) =>
    wantCases ? wantCases.includes(x.name) : x.defaultBackends.length > 0,
  )) {
    const backends = (
      wantBackends ?? (c.defaultBackends.length ? c.defaultBackends : ['native', 'wasm'])
    ).filter((b) => available.includes(b.split(':')[0]!));
    let flops = 0;
    for (const backend of backends) {
      const n = backend === 'cpu' && !wantBackends ? Math.min(runs, 2) : runs;
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          self,
          '--worker',
          `${c.name}@${backend}`,
          '--runs',
          String(n),
          '--warmup',
          String(backend === 'cpu' ? 1 : warmup),
          '--threads',
          String(threads),
          ...(values.profile ? ['--profile'] : []),
        ],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 1 << 24,
          env: { ...process.env, ...variantEnv(backend) },
        },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (r.status !== 0 || !line) {
        console.log(`  ${c.name} on ${backend}: FAILED (exit ${r.status})`);
        continue;
      }
      const rec = JSON.parse(line.slice(7)) as BenchRecord;
      flops = rec.flopsPerStep ?? flops;
      records.push(rec);
      console.log(
        `  ${rec.case.padEnd(24)} ${rec.backend.padEnd(10)} ${rec.secondsPerStep.toFixed(3).padStart(8)} s/step  ` +
          `[${rec.min.toFixed(3)}-${rec.max.toFixed(3)}]  ${rec.gflops.toFixed(2).padStart(7)} GFLOP/s  ${rec.peakRssMB.toFixed(0).padStart(5)} MB` +
          (rec.isa ? `  (${rec.isa}, inference ${rec.precision})` : '') +
          (rec.summary ? `  = ${rec.summary}` : ''),
      );
    }
    if (withTorch && (!wantBackends || wantBackends.includes('pytorch'))) {
      // GFLOP/s needs the FLOP count of a TS backend's run of the same case (0 when none ran)
      const t = runPytorch(c, runs, warmup, threads, flops);
      if (t) {
        records.push(t);
        const gf = flops > 0 ? t.gflops.toFixed(2).padStart(7) : '      -';
        console.log(
          `  ${t.case.padEnd(24)} ${'pytorch'.padEnd(10)} ${t.secondsPerStep.toFixed(3).padStart(8)} s/step  ` +
            `[${t.min.toFixed(3)}-${t.max.toFixed(3)}]  ${gf} GFLOP/s  ${t.peakRssMB.toFixed(0).padStart(5)} MB  (${t.blas}, ${threads} threads)`,
        );
      }
    }
  }
  // Ratios between backends on the same case.
  const byCase = new Map<string, BenchRecord[]>();
  for (const r of records) byCase.set(r.case, [...(byCase.get(r.case) ?? []), r]);
  const ratios: string[] = [];
  for (const [name, rs] of byCase) {
    const torch = rs.find((r) => r.backend === 'pytorch');
    for (const r of rs)
      if (torch && r !== torch)
        ratios.push(
          `  ${name.padEnd(24)} ${r.backend} runs at ${(torch.secondsPerStep / r.secondsPerStep).toFixed(2)}x PyTorch's speed`,
        );
    const native = rs.find((r) => r.backend === 'native');
    for (const r of rs)
      if (native && r.backend.startsWith('native:'))
        ratios.push(
          `  ${name.padEnd(24)} native runs at ${(r.secondsPerStep / native.secondsPerStep).toFixed(2)}x ${r.backend}'s speed`,
        );
    const cpu = rs.find((r) => r.backend === 'cpu');
    if (!cpu) continue;
    for (const r of rs)
      if (r !== cpu)
        ratios.push(
          `  ${name.padEnd(24)} ${r.backend} is ${(cpu.secondsPerStep / r.secondsPerStep).toFixed(1)}x faster than cpu`,
        );
  }
  if (ratios.length) console.log(`speed-ups:\n${ratios.join('\n')}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(records, null, 2) + '\n');
    console.log(`wrote ${records.length} records to ${values.json}`);
  }
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
