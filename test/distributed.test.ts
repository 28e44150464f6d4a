// Data-parallel meta-learning (issue 14): the batch split, the in-process reference communicator,
// N replicas with batch B matching one process with batch N*B (in process, and over real MPI ranks
// when Open MPI and the addon are installed), and a killed rank ending the job with a resumable
// checkpoint.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Dataset } from '../src/data/dataset.js';
import { EpisodeSampler, slicePlan, type EpisodePlan } from '../src/data/episodes.js';
import { initEngine } from '../src/engine/backend.js';
import { loadMpiAddon, localGroup, mpiLoadError, mpirunEnv } from '../src/engine/mpi.js';
import { tf } from '../src/engine/tf.js';
import { flatten, type ParamTree } from '../src/nn/params.js';
import { preset } from '../src/models/presets.js';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.js';
import { batchShare, DataParallel } from '../src/train/distributed.js';
import { PAPER_WEIGHTS } from '../src/train/losses.js';
import { PAPER_OPTIM } from '../src/train/adversarial.js';
import { initMetaParams, MetaTrainer, type MetaBatch } from '../src/train/meta_step.js';
import { unreachableBias } from './helpers/params.js';
import { writeTinyDataset } from './helpers/data.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir('distributed');
const data = join(tmp, 'data');

before(async () => {
  await initEngine({ threads: 1 });
  await writeTinyDataset(data);
});

/** Largest |a - b| over the leaves of two trees of the same layout (but the unreachable biases). */
function maxDiff(a: ParamTree, b: ParamTree): number {
  const fb = flatten(b);
  let worst = 0;
  for (const [k, t] of flatten(a)) {
    if (unreachableBias(k)) continue;
    const x = t.dataSync();
    const y = fb.get(k)!.dataSync();
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

test('a global batch is split into contiguous shares that cover it once', () => {
  for (const [g, n] of [
    [2, 2],
    [5, 2],
    [7, 3],
    [8, 8],
  ] as const) {
    const shares = Array.from({ length: n }, (_, r) => batchShare(g, r, n));
    assert.equal(shares[0]!.start, 0);
    assert.equal(shares.at(-1)!.end, g);
    shares.forEach((s, r) => {
      if (r > 0) assert.equal(s.start, shares[r - 1]!.end);
      assert.ok(s.end - s.start >= Math.floor(g / n) && s.end - s.start <= Math.ceil(g / n));
    });
  }
  assert.throws(() => batchShare(1, 0, 2), /2 ranks need a global batch of at least 2/);
});

test('in-process collectives: all-reduce sums, all-gather concatenates in rank order, bcast copies the root', async () => {
  const g = localGroup(3);
  const bufs = g.map((_, r) => new Float32Array([r, 10 * r]));
  await Promise.all(g.map((c, r) => c.allreduceSum(bufs[r]!, 't')));
  for (const b of bufs) assert.deepEqual([...b], [3, 30]);
  const recv = g.map(() => new Int32Array(6));
  await Promise.all(g.map((c, r) => c.allgather(new Int32Array([r, -r]), recv[r]!, 't')));
  for (const b of recv) assert.deepEqual([...b], [0, 0, 1, -1, 2, -2]);
  const bc = g.map((_, r) => new Uint8Array([r, r]));
  await Promise.all(g.map((c, r) => c.bcast(bc[r]!, 1, 't')));
  for (const b of bc) assert.deepEqual([...b], [1, 1]);
});

test('the sparse exchange of W: each rank sends only its columns, weighted by its share, summed over ranks', async () => {
  const g = localGroup(2);
  // global batch 3: rank 0 has 1 episode (video 3), rank 1 has 2 (videos 3 and 5)
  const dps = g.map((c) => new DataParallel(c, 3));
  assert.deepEqual(
    dps.map((d) => d.weight),
    [1 / 3, 2 / 3],
  );
  const rows = 2;
  const cols = 6;
  const grad = (entries: Record<number, number[]>) => {
    const a = new Float32Array(rows * cols);
    for (const [c, v] of Object.entries(entries)) v.forEach((x, r) => (a[r * cols + Number(c)] = x));
    return { D: { proj: { W: tf.tensor(a, [rows, cols]) } }, b: tf.tensor([1 + 0 * rows]) } as ParamTree;
  };
  const out = await Promise.all([
    dps[0]!.reduceGrads(grad({ 3: [3, 6] }), 'test', { path: 'D.proj.W', columns: [3] }),
    dps[1]!.reduceGrads(grad({ 3: [3, 3], 5: [1.5, -3] }), 'test', { path: 'D.proj.W', columns: [3, 3, 5] }),
  ]);
  for (const o of out) {
    const w = flatten(o).get('D.proj.W')!.arraySync() as number[][];
    // column 3: 1/3 [3, 6] + 2/3 [3, 3] = [3, 4]; column 5: 2/3 [1.5, -3] = [1, -2]; the rest 0
    assert.deepEqual(
      w.map((r) => r.map((x) => Math.round(x * 1e5) / 1e5)),
      [
        [0, 0, 0, 3, 0, 1],
        [0, 0, 0, 4, 0, -2],
      ],
    );
    assert.ok(
      Math.abs(flatten(o).get('b')!.dataSync()[0]! - 1) < 1e-6,
      'dense leaf: weighted mean of 1 and 1',
    );
    tf.dispose([...flatten(o).values()]);
  }
  // traffic: the dense leaf (1 float) plus 2 slots of [index, 2 values], not the 6 columns of W
  const stats = dps.map((d) => d.takeStats().commBytes);
  assert.deepEqual(stats, [4 + 2 * 3 * 4, 4 + 2 * 3 * 4]);
});

describe('replicas', () => {
  const c = preset('tiny');
  const k = 2;
  // The paper's rates. Adam with beta1 = 0 steps by lr * g / |g| where a gradient is new, so an entry
  // whose gradient is near 0 (an attention output whose gain was 0 a step ago) moves by a whole lr
  // either way on round-off; at lr 1e-3 such entries make two float-equal runs differ by ~lr.
  const optim = PAPER_OPTIM;
  const make = (numVideos: number) =>
    new MetaTrainer(c, k, PAPER_WEIGHTS, optim, initMetaParams(c, numVideos, 1));
  const load = (s: EpisodeSampler, plan: EpisodePlan, from: number, to: number): MetaBatch => {
    const e = s.load(slicePlan(plan, from, to));
    return { xk: e.xk, yk: e.yk, xt: e.xt, yt: e.yt, column: e.video };
  };
  const dispose = (b: MetaBatch) => tf.dispose([b.xk, b.yk, b.xt, b.yt, b.column]);

  test('2 replicas with batch 1 take the steps of 1 trainer with batch 2 (in-process communicator)', async () => {
    const ds = Dataset.open(data);
    const sampler = new EpisodeSampler(ds, k, 5);
    const one = make(ds.numVideos);
    const group = localGroup(2);
    const reps = group.map((comm) => {
      const t = make(ds.numVideos);
      t.reducer = new DataParallel(comm, 2).reducer<MetaBatch>({
        path: 'D.proj.W',
        columns: (b) => [...b.column.dataSync()],
      });
      return t;
    });
    let tensors = 0;
    for (let step = 0; step < 4; step++) {
      if (step === 1) tensors = tf.memory().numTensors; // after the first step's lasting state
      const plan = sampler.plan(2);
      const whole = load(sampler, plan, 0, 2);
      const parts = [load(sampler, plan, 0, 1), load(sampler, plan, 1, 2)];
      const m1 = await one.step(whole);
      const ms = await Promise.all(reps.map((t, r) => t.step(parts[r]!)));
      // the batch-2 loss is the mean of the two batch-1 losses
      const mean = (ms[0]!['lossD']! + ms[1]!['lossD']!) / 2;
      assert.ok(Math.abs(mean - m1['lossD']!) < 1e-4, `step ${step}: lossD ${mean} vs ${m1['lossD']}`);
      [whole, ...parts].forEach(dispose);
    }
    assert.equal(tf.memory().numTensors, tensors, 'no tensors leaked by the exchange');
    const bits = (t: MetaTrainer) => [...flatten(t.params).values()].map((x) => [...x.dataSync()]);
    assert.deepEqual(bits(reps[0]!), bits(reps[1]!), 'the replicas are identical, bit for bit');
    const d = maxDiff(reps[0]!.params, one.params);
    // 4 Adam steps move a weight by up to 4 lr (2e-4 to 8e-4): the gap is float rounding, not a step
    assert.ok(d < 1e-5, `replica vs batch-2 trainer: max |diff| ${d}`);
    // and they compute the same images (the unreachable biases included)
    const b = load(sampler, sampler.plan(2), 0, 2);
    const [x1, x2] = [one.generate(b), reps[0]!.generate(b)];
    const dx = tf.max(tf.abs(tf.sub(x1, x2))).dataSync()[0]!;
    assert.ok(dx < 1e-4, `generated images differ by ${dx}`);
    tf.dispose([x1, x2]);
    dispose(b);
    [one, ...reps].forEach((t) => t.dispose());
  });
});

// ---- real MPI ranks (Open MPI's mpirun and the native/mpi addon) ----

const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const mpiSkip =
  mpirun.status !== 0
    ? 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)'
    : !loadMpiAddon()
      ? `the MPI addon is ${mpiLoadError()} (apt-get install libopenmpi-dev, then npm run build:native)`
      : false;
if (mpiSkip) console.log(`# skipping the MPI tests: ${mpiSkip}`);

// TALKING_HEADS_TEST_RUN marks this file's ranks, so findRank picks them out.
const MPI_ENV = mpirunEnv({ TALKING_HEADS_TEST_RUN: tmp });
const CLI = ['--import', 'tsx', join('test', 'helpers', 'cli.ts')];
const train = (out: string, extra: string[]) => [
  'meta-train',
  '--data',
  data,
  '--preset',
  'tiny',
  '--k',
  '2',
  '--holdout',
  '0',
  '--seed',
  '1',
  '--sample-every',
  '1000',
  '--threads',
  '1',
  '-o',
  out,
  ...extra,
];
const mpi = (n: number, args: string[]) =>
  spawnSync('mpirun', ['--oversubscribe', '-np', String(n), process.execPath, ...CLI, ...args], {
    encoding: 'utf8',
    env: MPI_ENV,
    timeout: 240_000,
  });
const single = (args: string[]) =>
  spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: MPI_ENV, timeout: 240_000 });
/** The pid of this file's MPI rank `r` (its environment says so), or undefined. */
function findRank(r: number): string | undefined {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .find((p) => {
      try {
        const env = readFileSync(`/proc/${p}/environ`, 'utf8');
        return env.includes(`OMPI_COMM_WORLD_RANK=${r}\0`) && env.includes(`TALKING_HEADS_TEST_RUN=${tmp}\0`);
      } catch {
        return false;
      }
    });
}
// Jobs a test starts and has not seen end; a failing test must not leave a long run holding a core.
const running = new Set<ChildProcess>();
after(() => running.forEach((p) => p.kill('SIGTERM')));

/** `cmd args` (mpirun, or one process), its output collected as it comes. */
function startJob(cmd: string, args: string[]) {
  const job = spawn(cmd, args, { env: MPI_ENV });
  running.add(job);
  const out = { text: '' };
  job.stdout.on('data', (d: Buffer) => (out.text += d.toString()));
  job.stderr.on('data', (d: Buffer) => (out.text += d.toString()));
  const ended = new Promise<number | null>((r) =>
    job.on('exit', (code) => {
      running.delete(job);
      r(code);
    }),
  );
  return { job, out, ended };
}
const mpiJob = (args: string[]) =>
  startJob('mpirun', ['--oversubscribe', '-np', '2', process.execPath, ...CLI, ...args]);

/** Polls `ready` every 200 ms; fails with `what` and the job's output after 2 minutes. */
async function waitFor(ready: () => boolean, what: string, log: { text: string }): Promise<void> {
  const t0 = Date.now();
  while (!ready()) {
    assert.ok(Date.now() - t0 < 120_000, `${what} after 2 minutes:\n${log.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves to the exit code, or 'hung' after a minute. */
const withinAMinute = (ended: Promise<number | null>) =>
  Promise.race([ended, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref())]);

const runDir = (root: string) => join(root, readdirSync(root).sort().at(-1)!);
const lastCheckpoint = (run: string) => listCheckpoints(join(run, 'checkpoints')).at(-1)!;
const paramsOf = (run: string) => loadCheckpoint(lastCheckpoint(run).dir).trees['params']!;

test('--distributed names what it knows; without the addon it says how to get Open MPI', () => {
  const r = single(train(join(tmp, 'bad'), ['--steps', '1', '--distributed', 'nccl']));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--distributed: "nccl" is not known; use mpi/);
  if (!loadMpiAddon()) {
    const m = single(train(join(tmp, 'bad'), ['--steps', '1', '--distributed', 'mpi']));
    assert.equal(m.status, 1);
    assert.match(m.stderr, /apt-get install libopenmpi-dev openmpi-bin/);
  }
});

describe('over MPI', { skip: mpiSkip }, () => {
  test('2 ranks with batch 1 match 1 process with batch 2; the run resumes on 1 process', () => {
    const r2 = mpi(2, train(join(tmp, 'mpi2'), ['--batch', '1', '--steps', '4', '--distributed', 'mpi']));
    assert.equal(r2.status, 0, r2.stdout + r2.stderr);
    const r1 = single(train(join(tmp, 'one'), ['--batch', '2', '--steps', '4']));
    assert.equal(r1.status, 0, r1.stdout + r1.stderr);
    const [a, b] = [runDir(join(tmp, 'mpi2')), runDir(join(tmp, 'one'))];
    const cfg = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    assert.equal(cfg.config.batch, 2, 'the run records the global batch');
    assert.equal(cfg.distributed.ranks, 2);
    const d = maxDiff(paramsOf(a), paramsOf(b));
    assert.ok(d < 1e-5, `2 ranks vs 1 process after 4 steps: max |diff| ${d}`);
    const last = (run: string) =>
      JSON.parse(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').at(-1)!);
    assert.ok(Math.abs(last(a).lossEG - last(b).lossEG) < 1e-3, 'the logged loss is the global batch mean');
    assert.ok(last(a).commBytes > 0, 'communication is logged');
    // the 2-rank run continued in one process and the 1-process run continued on 2 ranks stay together
    const c1 = single(['meta-train', '--resume', a, '--steps', '6', '--threads', '1']);
    assert.equal(c1.status, 0, c1.stdout + c1.stderr);
    const c2 = mpi(2, [
      'meta-train',
      '--resume',
      b,
      '--steps',
      '6',
      '--threads',
      '1',
      '--distributed',
      'mpi',
    ]);
    assert.equal(c2.status, 0, c2.stdout + c2.stderr);
    const d2 = maxDiff(paramsOf(a), paramsOf(b));
    assert.ok(d2 < 2e-5, `after resuming on 1 process: max |diff| ${d2}`);
  });

  test('a killed rank ends the job with a message within a minute; the last checkpoint resumes', async () => {
    const out = join(tmp, 'killed');
    const args = train(out, [
      '--batch',
      '1',
      '--steps',
      '100000',
      '--checkpoint-every',
      '3',
      '--distributed',
      'mpi',
    ]);
    const { out: log, ended } = mpiJob(args);
    const ckpts = () =>
      existsSync(out) && readdirSync(out).length && existsSync(join(runDir(out), 'checkpoints'))
        ? readdirSync(join(runDir(out), 'checkpoints')).filter(
            (n) => /^step-\d+$/.test(n) && n !== 'step-00000000',
          )
        : [];
    await waitFor(() => ckpts().length > 0, 'no checkpoint past step 0', log);
    const rank1 = findRank(1);
    assert.ok(rank1, 'found rank 1');
    const killedAt = Date.now();
    process.kill(Number(rank1), 'SIGKILL');
    const code = await withinAMinute(ended);
    assert.notEqual(code, 'hung', `the job still runs a minute after a rank was killed:\n${log.text}`);
    assert.notEqual(code, 0);
    assert.ok(Date.now() - killedAt < 60_000);
    assert.match(log.text, /rank 0: stopped by the MPI launcher/);
    assert.match(log.text, /the last checkpoint \(step \d+\) in .* is intact/);
    // resume on one process from the last checkpoint; Ctrl-C once it runs saves and stops it
    const run = runDir(out);
    const saved = lastCheckpoint(run).step;
    const resumed = startJob(process.execPath, [...CLI, 'meta-train', '--resume', run, '--threads', '1']);
    await waitFor(() => /Resuming/.test(resumed.out.text), 'the resumed run did not start', resumed.out);
    await new Promise((r) => setTimeout(r, 1500));
    resumed.job.kill('SIGINT');
    const rc = await resumed.ended;
    assert.match(resumed.out.text, new RegExp(`Resuming .* at step ${saved}`));
    assert.equal(rc, 130, resumed.out.text);
    assert.ok(lastCheckpoint(run).step > saved, 'the resumed run went on and saved');
  });

  test('a rank that hangs (SIGSTOP) ends the job after --rank-timeout with a message', async () => {
    const out = join(tmp, 'hung');
    const args = train(out, [
      '--batch',
      '1',
      '--steps',
      '100000',
      '--rank-timeout',
      '3',
      '--distributed',
      'mpi',
    ]);
    const { out: log, ended } = mpiJob(args);
    await waitFor(() => /Run folder/.test(log.text), 'the job did not start', log);
    await new Promise((r) => setTimeout(r, 1000));
    const rank1 = findRank(1);
    assert.ok(rank1, 'found rank 1');
    process.kill(Number(rank1), 'SIGSTOP');
    const code = await withinAMinute(ended);
    if (code === 'hung') process.kill(Number(rank1), 'SIGKILL');
    assert.notEqual(code, 'hung', `the job still runs a minute after a rank froze:\n${log.text}`);
    assert.notEqual(code, 0);
    assert.match(
      log.text,
      /rank 0: no answer from the other ranks for 3 s in the .* (gradients|metrics|decision)/,
    );
  });
});
