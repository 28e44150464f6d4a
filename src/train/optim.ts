/**
 * Gradients over parameter trees, and Adam with per-group learning rates and betas
 * (Zakharov et al. 2019, sec. 3.3 / docs/design.md sec. 5: lr 5e-5 for E and G, 2e-4 for D; betas are
 * not given in the paper, SAGAN's (0, 0.9) is our default).
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { ADAM_KERNEL, hasFused } from '../engine/fused.js';
import { gradients, gradientsOfMany } from '../engine/tape.js';
import { tf, type Tensor } from '../engine/tf.js';
import { flatten, unflatten, type ParamTree } from '../nn/params.js';

// A type alias (not an interface) so it is a TensorContainer that tf.tidy can return.
export type ValueAndGrads = {
  value: tf.Scalar;
  /** Gradients for the selected leaves that the loss depends on, same paths as the params. */
  grads: ParamTree;
};

/**
 * d f(params) / d leaf for every leaf whose path passes `wrt` (default: all). Leaves the loss does not
 * reach get no entry (check with `flatten(grads).size`); run it inside `tf.tidy` or dispose the result.
 */
export function valueAndGrads(
  f: (params: ParamTree) => tf.Scalar,
  params: ParamTree,
  wrt: (path: string) => boolean = () => true,
): ValueAndGrads {
  const leaves = flatten(params);
  const paths = [...leaves.keys()].filter(wrt);
  const xs = paths.map((p) => leaves.get(p)!);
  // engine/tape.ts: the same gradients as TF.js's, with memory freed as the backward pass goes.
  const { value, grads } = gradients(() => f(params), xs, /* allowNoGradients */ true);
  return { value: value as tf.Scalar, grads: gradientTree(paths, grads) };
}

/** The gradients of the leaves at `paths` as a tree; leaves without one get no entry. */
function gradientTree(paths: string[], grads: (Tensor | null)[]): ParamTree {
  const out = new Map<string, Tensor>();
  grads.forEach((g, i) => {
    if (g != null) out.set(paths[i]!, g);
  });
  return unflatten(out);
}

/**
 * Several losses from one forward pass: f returns them, and loss i is differentiated by the leaves
 * that pass `wrt[i]` (engine/tape.ts gradientsOfMany: the same gradients as one `valueAndGrads` per
 * loss, the shared forward work done once). Run it inside `tf.tidy` or dispose the results.
 */
export function valueAndGradsOfMany(
  f: (params: ParamTree) => tf.Scalar[],
  params: ParamTree,
  wrt: ((path: string) => boolean)[],
): ValueAndGrads[] {
  const leaves = flatten(params);
  const selected = wrt.map((w) => [...leaves.keys()].filter(w));
  const { values, grads } = gradientsOfMany(
    () => f(params),
    selected.map((paths, y) => ({ y, xs: paths.map((p) => leaves.get(p)!) })),
  );
  return wrt.map((_, i) => ({ value: values[i] as tf.Scalar, grads: gradientTree(selected[i]!, grads[i]!) }));
}

export interface AdamGroupConfig {
  /** Which parameters (by path) this group owns. Each parameter must belong to exactly one group. */
  match: (path: string) => boolean;
  lr: number;
  beta1: number;
  beta2: number;
  eps?: number;
}

export interface AdamState {
  m: ParamTree;
  v: ParamTree;
  /** Update count per group (bias correction). */
  steps: Record<string, number>;
}

/**
 * Adam (Kingma & Ba 2015) over a parameter tree. `update` consumes the gradients and the replaced
 * parameter tensors: it returns the new tree, disposing the old leaves it replaced, so a loop keeps
 * one copy of the weights alive.
 */
export class Adam {
  private m = new Map<string, Tensor>();
  private v = new Map<string, Tensor>();
  private steps: Record<string, number>;
  private readonly groupOf = new Map<string, string>();

  constructor(
    readonly groups: Readonly<Record<string, AdamGroupConfig>>,
    params: ParamTree,
  ) {
    this.steps = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]));
    for (const [path, t] of flatten(params)) {
      const owners = Object.entries(groups).filter(([, g]) => g.match(path));
      if (owners.length > 1) {
        throw new RangeError(
          `Parameter "${path}" matches several optimizer groups: ${owners.map(([n]) => n).join(', ')}`,
        );
      }
      if (owners.length === 0) continue; // frozen
      const name = owners[0]![0];
      this.groupOf.set(path, name);
      this.m.set(path, tf.keep(tf.zerosLike(t)));
      this.v.set(path, tf.keep(tf.zerosLike(t)));
    }
  }

  /** Applies one Adam step for every parameter that has a gradient. Groups count their own steps. */
  update(params: ParamTree, grads: ParamTree): ParamTree {
    const leaves = flatten(params);
    const gs = flatten(grads);
    const touched = new Set<string>();
    for (const path of gs.keys()) {
      const group = this.groupOf.get(path);
      if (group === undefined) throw new RangeError(`Gradient for "${path}", which no optimizer group owns`);
      touched.add(group);
    }
    for (const g of touched) this.steps[g]! += 1;
    const out = new Map(leaves);
    for (const [path, g] of gs) {
      const p = leaves.get(path);
      if (!p) throw new RangeError(`Gradient for "${path}", which is not a parameter`);
      const cfg = this.groups[this.groupOf.get(path)!]!;
      const t = this.steps[this.groupOf.get(path)!]!;
      const fused = hasFused(ADAM_KERNEL);
      const [np, nm, nv] = fused
        ? (tf.engine().runKernel(ADAM_KERNEL, { p, m: this.m.get(path)!, v: this.v.get(path)!, g }, {
            lr: cfg.lr,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps ?? 1e-8,
            step: t,
          } as unknown as NamedAttrMap) as Tensor[])
        : tf.tidy(() => {
            const m = tf.add(tf.mul(this.m.get(path)!, cfg.beta1), tf.mul(g, 1 - cfg.beta1));
            const v = tf.add(tf.mul(this.v.get(path)!, cfg.beta2), tf.mul(tf.square(g), 1 - cfg.beta2));
            // Bias-corrected step: lr * m_hat / (sqrt(v_hat) + eps).
            const mHat = tf.div(m, 1 - Math.pow(cfg.beta1, t));
            const vHat = tf.div(v, 1 - Math.pow(cfg.beta2, t));
            const step = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), cfg.eps ?? 1e-8)), cfg.lr);
            return [tf.sub(p, step), m, v];
          });
      this.m.get(path)!.dispose();
      this.v.get(path)!.dispose();
      this.m.set(path, tf.keep(nm!));
      this.v.set(path, tf.keep(nv!));
      p.dispose();
      out.set(path, np!);
    }
    tf.dispose([...gs.values()]);
    return unflatten(out);
  }

  /** The moments (not copies) and step counts, for checkpoints. */
  state(): AdamState {
    return { m: unflatten(this.m), v: unflatten(this.v), steps: { ...this.steps } };
  }

  /** Replaces the state with a loaded one (takes ownership of its tensors). */
  load(state: AdamState): void {
    const m = flatten(state.m);
    const v = flatten(state.v);
    for (const path of this.m.keys()) {
      const mi = m.get(path);
      const vi = v.get(path);
      const cur = this.m.get(path)!;
      if (!mi || !vi) throw new RangeError(`Optimizer state has no moments for "${path}"`);
      if (mi.shape.join() !== cur.shape.join() || vi.shape.join() !== cur.shape.join()) {
        throw new RangeError(
          `Optimizer moments for "${path}" have shape [${mi.shape}], expected [${cur.shape}]`,
        );
      }
    }
    this.dispose();
    for (const path of this.groupOf.keys()) {
      this.m.set(path, tf.keep(m.get(path)!));
      this.v.set(path, tf.keep(v.get(path)!));
    }
    for (const g of Object.keys(this.groups)) this.steps[g] = state.steps[g] ?? 0;
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
    this.m.clear();
    this.v.clear();
  }
}
