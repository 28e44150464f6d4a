/**
 * `npm run bench`: seconds per training step on each backend, with spread, achieved GFLOP/s and peak
 * memory. Each (case, backend) runs in its own process so peak RSS is its own. Prints a table and,
 * with --json FILE, one record per case: {case, backend, resolution, batch, k, secondsPerStep
 * (median), runs, min, max, gflops, peakRssMB}.
 *
 *   npm run bench -- [--cases a,b] [--backends wasm,cpu] [--runs 5] [--json out.json] [--profile]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initEngine, tensorflowAvailable } from '../src/engine/backend.js';
import { profileKernels } from '../src/engine/profile.js';
import { CASES } from './cases.js';

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
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs in the child: warm-up step, then `runs` timed steps. */
async function worker(caseName: string, backend: string, runs: number, profile: boolean): Promise<void> {
  await initEngine({ backend });
  const c = CASES.find((x) => x.name === caseName)!;
  const w = c.build(1);
  w.step(); // warm-up: allocations, kernel setup
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
  };
  process.stdout.write(`RESULT ${JSON.stringify(rec)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      backends: { type: 'string' },
      runs: { type: 'string', default: '5' },
      json: { type: 'string' },
      profile: { type: 'boolean', default: false },
      worker: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`--runs must be a positive integer, got ${values.runs}`);
  if (values.worker) {
    const [caseName, backend] = values.worker.split('@') as [string, string];
    await worker(caseName, backend, runs, values.profile);
    return;
  }
  const available = ['wasm', 'cpu', ...((await tensorflowAvailable()) ? ['tensorflow'] : [])];
  const wantBackends = values.backends ? values.backends.split(',') : null;
  const wantCases = values.cases ? values.cases.split(',') : null;
  for (const n of wantCases ?? []) {
    if (!CASES.some((c) => c.name === n))
      throw new RangeError(`Unknown case "${n}". Cases: ${CASES.map((c) => c.name).join(', ')}`);
  }
  const records: BenchRecord[] = [];
  const self = fileURLToPath(import.meta.url);
  console.log(
    `training-step benchmark: median of ${runs} runs after one warm-up (cpu runs 2), each case in its own process`,
  );
  for (const c of CASES.filter((x) => !wantCases || wantCases.includes(x.name))) {
    const backends = (wantBackends ?? c.defaultBackends).filter((b) => available.includes(b));
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
          ...(values.profile ? ['--profile'] : []),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (r.status !== 0 || !line) {
        console.log(`  ${c.name} on ${backend}: FAILED (exit ${r.status})`);
        continue;
      }
      const rec = JSON.parse(line.slice(7)) as BenchRecord;
      records.push(rec);
      console.log(
        `  ${rec.case.padEnd(24)} ${rec.backend.padEnd(10)} ${rec.secondsPerStep.toFixed(3).padStart(8)} s/step  ` +
          `[${rec.min.toFixed(3)}-${rec.max.toFixed(3)}]  ${rec.gflops.toFixed(2).padStart(7)} GFLOP/s  ${rec.peakRssMB.toFixed(0).padStart(5)} MB`,
      );
    }
  }
  // Ratios between backends on the same case.
  const byCase = new Map<string, BenchRecord[]>();
  for (const r of records) byCase.set(r.case, [...(byCase.get(r.case) ?? []), r]);
  const ratios: string[] = [];
  for (const [name, rs] of byCase) {
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
