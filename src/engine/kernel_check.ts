/**
 * Compares a backend against the cpu reference: the same function of the same inputs, values and
 * gradients. Used by the kernel tests (many cases) and by `doctor` (one case per patched kernel).
 */
import { Rng } from './rng.js';
import { sizeOf } from './shape.js';
import { tf, type Tensor } from './tf.js';

/** A case: inputs by shape, and a function of them whose outputs are compared. */
export interface KernelCase {
  name: string;
  inputs: readonly (readonly number[])[];
  /** Integer inputs (indices): shape and values, passed after the float inputs. */
  ints?: readonly { shape: readonly number[]; values: readonly number[] }[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Also compare d(sum(fn * r))/d(input) for every float input. Default true. */
  grads?: boolean;
}

export interface CaseResult {
  name: string;
  /** max |a - b| / max(|b|, 1e-6) over each output (value, then one per input gradient). */
  relErrors: number[];
  worst: number;
}

function evaluate(c: KernelCase, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const rng = new Rng(seed);
    const xs = c.inputs.map((s) => tf.tensor(rng.uniformArray(sizeOf(s), -1, 1), [...s]));
    const ints = (c.ints ?? []).map((t) => tf.tensor(t.values as number[], [...t.shape], 'int32'));
    const y = c.fn(...xs, ...ints);
    const out: Tensor[] = [y];
    if (c.grads !== false) {
      const r = tf.tensor(rng.uniformArray(y.size, -1, 1), y.shape);
      const loss = (...vs: Tensor[]) => tf.sum(tf.mul(c.fn(...vs, ...ints), r));
      out.push(...tf.grads(loss)(xs));
    }
    return out.map((t) => t.dataSync() as Float32Array);
  });
}

export function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}

/** Runs each case on `backend` and on `cpu`, returns relative errors. Leaves `backend` active. */
export async function compareWithCpu(
  backend: string,
  cases: readonly KernelCase[],
  seed = 1,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    await tf.setBackend('cpu');
    const ref = evaluate(c, seed);
    await tf.setBackend(backend);
    const got = evaluate(c, seed);
    const relErrors = ref.map((r, i) => relativeError(got[i]!, r));
    results.push({ name: c.name, relErrors, worst: Math.max(...relErrors) });
  }
  return results;
}

const conv = (s: number, pad: 'same' | 'valid') => (x: Tensor, w: Tensor) =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad);

/** One small case per patched kernel: the health check `doctor` runs. */
export const HEALTH_CASES: readonly KernelCase[] = [
  {
    name: 'Conv2D + backprop (3x3, stride 1, same)',
    inputs: [
      [2, 9, 10, 3],
      [3, 3, 3, 5],
    ],
    fn: conv(1, 'same'),
  },
  {
    name: 'Conv2D + backprop (4x4, stride 2, same)',
    inputs: [
      [2, 9, 10, 3],
      [4, 4, 3, 5],
    ],
    fn: conv(2, 'same'),
  },
  {
    name: 'Conv2D + backprop (9x9, stride 1, valid)',
    inputs: [
      [1, 12, 11, 2],
      [9, 9, 2, 3],
    ],
    fn: conv(1, 'valid'),
  },
  {
    name: 'BatchMatMul (batched, transposed)',
    inputs: [
      [3, 7, 5],
      [3, 4, 7],
    ],
    fn: (a, b) => tf.matMul(a!, b!, true, true),
  },
  {
    name: 'Gather gradient (UnsortedSegmentSum)',
    inputs: [[6, 4]],
    ints: [{ shape: [5], values: [1, 3, 3, 5, 0] }],
    fn: (x, i) => tf.gather(x!, i!),
  },
  { name: 'Slice', inputs: [[3, 5, 7]], fn: (x) => tf.slice(x!, [1, 1, 2], [2, 3, 4]) },
  {
    name: 'AvgPool gradient',
    inputs: [[2, 8, 6, 3]],
    fn: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'),
  },
  { name: 'Sum over leading axes', inputs: [[4, 64, 64, 8]], fn: (x) => tf.sum(x!, [0, 1, 2]) },
  {
    name: 'Nearest upsample gradient (batch 2)',
    inputs: [[2, 4, 5, 3]],
    fn: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [8, 10]),
  },
];

/** Tolerance for float32 kernels that sum in a different order than the reference. */
export const REL_TOLERANCE = 1e-4;
