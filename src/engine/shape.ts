import type { Tensor } from './tf.js';

/** One expected dimension: an exact size, `null` for "any", or a name that must agree across calls. */
export type Dim = number | null | string;

/**
 * Checks a tensor's shape at a module boundary (stylegan's `assert_shape`). Named dims bind on first
 * use within one `dims` record, so `assertShape(x, ['B', 'H', 'W', 3], dims)` then
 * `assertShape(y, ['B', 'H', 'W', 6], dims)` checks that x and y agree on B, H and W.
 */
export function assertShape(
  t: Tensor | readonly number[],
  expected: readonly Dim[],
  what = 'tensor',
  dims: Record<string, number> = {},
): void {
  const shape = Array.isArray(t) ? (t as readonly number[]) : (t as Tensor).shape;
  const fail = (why: string): never => {
    throw new RangeError(
      `${what}: expected shape [${expected.map((d) => (d === null ? '*' : String(d))).join(', ')}], got [${shape.join(', ')}] (${why})`,
    );
  };
  if (shape.length !== expected.length) fail(`rank ${shape.length}, expected ${expected.length}`);
  expected.forEach((e, i) => {
    const s = shape[i]!;
    if (e === null) return;
    if (typeof e === 'number') {
      if (s !== e) fail(`dim ${i} is ${s}, expected ${e}`);
      return;
    }
    const bound = dims[e];
    if (bound === undefined) dims[e] = s;
    else if (bound !== s) fail(`dim ${i} "${e}" is ${s}, but ${e} = ${bound} elsewhere`);
  });
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
