/**
 * Model parameters as named trees of tensors, JAX style: `init(config, rng)` builds a tree,
 * `forward(params, inputs)` reads it, and training replaces trees rather than mutating variables.
 * Leaf paths join keys with dots ("generator.up1.conv1.weight"); they are the names in checkpoints.
 */
import { Rng } from '../engine/rng.js';
import { sizeOf } from '../engine/shape.js';
import { tf, type Tensor } from '../engine/tf.js';

export interface ParamTree {
  readonly [key: string]: Tensor | ParamTree;
}

function isTensor(x: Tensor | ParamTree): x is Tensor {
  return x instanceof tf.Tensor;
}

/** Leaves in a stable order (keys sorted at every level), so flatten order never depends on insertion. */
export function flatten(tree: ParamTree, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const key of Object.keys(tree).sort()) {
    if (key.includes('.')) throw new RangeError(`Parameter key "${key}" must not contain "."`);
    const v = tree[key]!;
    const path = prefix ? `${prefix}.${key}` : key;
    if (isTensor(v)) out.set(path, v);
    else for (const [p, t] of flatten(v, path)) out.set(p, t);
  }
  return out;
}

export function unflatten(leaves: ReadonlyMap<string, Tensor> | Iterable<[string, Tensor]>): ParamTree {
  const root: Record<string, unknown> = {};
  for (const [path, t] of leaves) {
    const keys = path.split('.');
    let node = root;
    keys.slice(0, -1).forEach((k) => {
      const next = (node[k] ??= {}) as Record<string, unknown>;
      if (next instanceof tf.Tensor) throw new RangeError(`"${path}" is both a leaf and a branch`);
      node = next;
    });
    const last = keys[keys.length - 1]!;
    if (last in node) throw new RangeError(`Duplicate parameter "${path}"`);
    node[last] = t;
  }
  return root as ParamTree;
}

/** Same structure, leaves replaced by f(leaf, path). */
export function mapTree(tree: ParamTree, f: (t: Tensor, path: string) => Tensor): ParamTree {
  const out = new Map<string, Tensor>();
  for (const [p, t] of flatten(tree)) out.set(p, f(t, p));
  return unflatten(out);
}

export function countParams(tree: ParamTree): number {
  let n = 0;
  for (const t of flatten(tree).values()) n += t.size;
  return n;
}

export function disposeTree(tree: ParamTree): void {
  tf.dispose([...flatten(tree).values()]);
}

/** Keeps every leaf alive past the enclosing tidy (for trees returned from a training step). */
export function keepTree<T extends ParamTree>(tree: T): T {
  for (const t of flatten(tree).values()) tf.keep(t);
  return tree;
}

/** Subtree at a dotted path; throws with the available keys if absent. */
export function subtree(tree: ParamTree, path: string): ParamTree {
  let node: Tensor | ParamTree = tree;
  for (const k of path.split('.')) {
    if (isTensor(node) || !(k in node)) {
      const keys = isTensor(node) ? [] : Object.keys(node);
      throw new RangeError(`No parameter group "${path}" (at "${k}"; have: ${keys.join(', ') || 'none'})`);
    }
    node = node[k]!;
  }
  if (isTensor(node)) throw new RangeError(`"${path}" is a tensor, not a parameter group`);
  return node;
}

export function leaf(tree: ParamTree, key: string): Tensor {
  const v = tree[key];
  if (v === undefined || !isTensor(v)) {
    throw new RangeError(`Missing parameter "${key}" (have: ${Object.keys(tree).join(', ')})`);
  }
  return v;
}

// ---- initialisers (seeded, backend-independent) ----

/** He-normal conv kernel [k, k, ci, co]: std = sqrt(2 / fan_in). */
export function heConv(rng: Rng, k: number, ci: number, co: number): Tensor {
  const shape = [k, k, ci, co];
  return tf.tensor(rng.normalArray(sizeOf(shape), Math.sqrt(2 / (k * k * ci))), shape);
}

/** Linear weight [fanIn, fanOut] with the given std (default Xavier-like 1/sqrt(fanIn)). */
export function normalMatrix(rng: Rng, fanIn: number, fanOut: number, std = 1 / Math.sqrt(fanIn)): Tensor {
  return tf.tensor(rng.normalArray(fanIn * fanOut, std), [fanIn, fanOut]);
}

export function zeros(shape: number[]): Tensor {
  return tf.zeros(shape);
}

export function ones(shape: number[]): Tensor {
  return tf.ones(shape);
}
