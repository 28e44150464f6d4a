/**
 * One rank of the all-reduce timing in bench/scaling.ts (run under mpirun):
 *   mpirun -np 2 node --import tsx bench/allreduce.ts BYTES
 * Rank 0 prints "ALLREDUCE <median seconds>" over 7 sums of BYTES (after 2 warm-ups).
 */
import { mpiCommunicator } from '../src/engine/mpi.js';

const comm = mpiCommunicator();
const buf = new Float32Array(Math.ceil(Number(process.argv[2]) / 4)).fill(1);
const times: number[] = [];
for (let i = 0; i < 9; i++) {
  const s = performance.now();
  await comm.allreduceSum(buf, 'the benchmark');
  times.push((performance.now() - s) / 1000);
}
const kept = times.slice(2).sort((a, b) => a - b);
if (comm.rank === 0) console.log(`ALLREDUCE ${kept[Math.floor(kept.length / 2)]}`);
comm.finalize();
