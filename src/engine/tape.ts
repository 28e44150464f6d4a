/**
 * Reverse-mode gradients over TF.js's tape that free memory as the backward pass goes (issue 25).
 *
 * `tf.engine().gradients` keeps every tensor a forward op saved for its gradient, and every
 * gradient it computes on the way back, alive until the whole backward pass ends: a training
 * step's peak is then about its activations twice over (measured at 128 px, b4 k8: peak RSS
 * 2,665 MB, reached in the backward pass, against PyTorch's 1,542 MB). PyTorch frees
 * a node's saved tensors and its output gradient as soon as that node's backward has run. This walk
 * does the same: the same tape, the same gradient functions in the same order and the same
 * accumulation (so the same bits as TF.js's own; tested), plus
 * - the saved tensors of nodes off the x -> y path are released before the walk starts,
 * - after a node's gradient is taken, its saved tensors and its outputs' gradients are released.
 *
 * It reads TF.js's engine state (the tape, `scopedRun`, `startTape` / `endTape`), which is not public
 * API; the shapes it relies on are those of tfjs-core 4.x (engine.ts `gradients`, tape.ts
 * `backpropagateGradients`). Nested (higher-order) gradients go to TF.js's own implementation.
 */
import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import { tf, type Tensor } from './tf.js';

/** One tape node as tfjs-core 4.x records it (tape.ts TapeNode). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: NamedTensorMap;
  outputs: Tensor[];
  gradient?: (dys: Tensor[]) => Record<string, () => Tensor>;
  saved?: Tensor[];
}

/** The engine internals used here (engine.ts); everything else goes through the public API. */
interface TapeEngine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
}

function engine(): TapeEngine {
  const e = tf.engine() as unknown as Partial<TapeEngine>;
  if (
    typeof e.scopedRun !== 'function' ||
    typeof e.startTape !== 'function' ||
    typeof e.endTape !== 'function' ||
    e.state === undefined
  ) {
    throw new Error('This TF.js engine does not expose its tape (tfjs-core 4.x expected).');
  }
  return e as TapeEngine;
}

/**
 * The nodes on some path from one of `xs` to `y`, inputs pruned to those that depend on `xs`
 * (tfjs-core tape.ts getFilteredNodesXToY, which is not exported).
 */
function pathNodes(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodeFromX.add(node.id);
    }
  }
  const leadsToY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => leadsToY.has(o.id))) {
      for (const t of Object.values(node.inputs)) leadsToY.add(t.id);
      nodeToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: NamedTensorMap = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/** Tensor id -> its gradient so far, counting how many entries hold each gradient tensor. */
class GradientMap {
  private readonly byId = new Map<number, Tensor>();
  private readonly uses = new Map<Tensor, number>();
  get(id: number): Tensor | undefined {
    return this.byId.get(id);
  }
  set(id: number, t: Tensor): void {
    this.delete(id);
    this.byId.set(id, t);
    this.uses.set(t, (this.uses.get(t) ?? 0) + 1);
  }
  delete(id: number): void {
    const t = this.byId.get(id);
    if (t === undefined) return;
    this.byId.delete(id);
    const n = this.uses.get(t)! - 1;
    if (n === 0) this.uses.delete(t);
    else this.uses.set(t, n);
  }
  holds(t: Tensor): boolean {
    return this.uses.has(t);
  }
}

function releaseSaved(node: TapeNode): void {
  for (const t of node.saved ?? []) t.dispose();
}

/** Runs `f` with the tape on: its values and the whole tape. */
function record(e: TapeEngine, f: () => Tensor | Tensor[]): { ys: Tensor[]; tape: TapeNode[] } {
  const out = e.scopedRun(
    () => e.startTape(),
    () => e.endTape(),
    () => e.tidy('forward', f),
  );
  const ys = Array.isArray(out) ? out : [out];
  if (!ys.every((y) => y instanceof tf.Tensor)) throw new Error('The value f() returns must be a tensor.');
  return { ys, tape: e.state.activeTape ?? [] };
}

/** Frees what the tape still holds (released tensors are skipped) and clears it. */
function endRecording(e: TapeEngine, tape: TapeNode[]): void {
  for (const node of tape) releaseSaved(node);
  e.state.activeTape = null;
}

/**
 * Bytes the tape keeps for the backward pass of f with respect to `xs`: the distinct buffers saved by
 * the nodes on the x -> y path, once the forward pass is over. A diagnostic (tests, profiles): it
 * runs the forward pass, frees what it recorded and takes no gradient.
 */
export function tapeKeeps(f: () => Tensor, xs: Tensor[]): number {
  const e = engine();
  if (e.state.gradientDepth > 0) throw new Error('tapeKeeps cannot run inside a gradient computation.');
  const { ys, tape } = record(e, f);
  const y = ys[0]!;
  const path = pathNodes(tape, xs, y);
  // clones share their original's buffer (dataId): each buffer counts once
  const seen = new Set<object>();
  let bytes = 0;
  for (const node of path)
    for (const t of node.saved ?? []) {
      if (seen.has(t.dataId)) continue;
      seen.add(t.dataId);
      bytes += t.size * tf.util.bytesPerElement(t.dtype);
    }
  endRecording(e, tape);
  y.dispose();
  return bytes;
}

/**
 * The value of `f()` and d f / d x for each of `xs` (null where f does not depend on x; with
 * `allowNoGradients` false that is an error when none depends), like `tf.engine().gradients`.
 */
export function gradients(
  f: () => Tensor,
  xs: Tensor[],
  allowNoGradients = false,
): { value: Tensor; grads: (Tensor | null)[] } {
  if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
  const e = engine();
  if (e.state.gradientDepth > 0) {
    // Inside another gradient computation: the outer one still needs the tape as it is.
    const r = tf.engine().gradients(f, xs, undefined, allowNoGradients);
    return { value: r.value, grads: r.grads };
  }
  const r = backward(e, f, [{ y: 0, xs }], allowNoGradients);
  return { value: r.values[0]!, grads: r.grads[0]! };
}

/** One objective of `gradientsOfMany`: the index of one of f's outputs, and what to differentiate it by. */
export interface Objective {
  y: number;
  xs: Tensor[];
}

/**
 * One forward pass, several objectives: f's outputs, and for each objective d ys[y] / d x for each of
 * its xs (null where that output does not depend on x). What two separate `gradients` calls would
 * give, bit for bit, without running the shared part of the forward pass twice: the adversarial step
 * takes the generator side's loss and D's hinge loss from one pass over D (train/adversarial.ts).
 * A node's saved tensors are freed once the last objective whose path it lies on is done with it.
 * The objectives run in the order given; put first the one whose path holds tensors the others do not need.
 */
export function gradientsOfMany(
  f: () => Tensor[],
  objectives: Objective[],
): { values: Tensor[]; grads: (Tensor | null)[][] } {
  const e = engine();
  if (e.state.gradientDepth > 0) throw new Error('gradientsOfMany cannot run inside a gradient computation.');
  return backward(e, f, objectives, true);
}

function backward(
  e: TapeEngine,
  f: () => Tensor | Tensor[],
  objectives: Objective[],
  allowNoGradients: boolean,
): { values: Tensor[]; grads: (Tensor | null)[][] } {
  const { ys, tape } = record(e, f);
  try {
    const paths = objectives.map(({ y, xs }) => {
      const out = ys[y];
      if (out === undefined) throw new Error(`Objective ${y}: f() returned ${ys.length} tensor(s).`);
      const path = pathNodes(tape, xs, out);
      if (!allowNoGradients && path.length === 0) {
        throw new Error(
          'Cannot compute gradient of y = f(x) with respect to x: f does not use any of the xs.',
        );
      }
      return path;
    });
    // how many walks still need each node's saved tensors
    const pending = new Map<number, number>();
    for (const path of paths) for (const n of path) pending.set(n.id, (pending.get(n.id) ?? 0) + 1);
    for (const node of tape) if (!pending.has(node.id)) releaseSaved(node);
    const done = (node: TapeNode) => {
      const n = pending.get(node.id)! - 1;
      pending.set(node.id, n);
      if (n === 0) releaseSaved(node);
    };
    const grads = objectives.map(({ y, xs }, i) => walk(e, paths[i]!, ys[y]!, xs, done));
    return { values: ys, grads };
  } catch (err) {
    tf.dispose(ys);
    throw err;
  } finally {
    endRecording(e, tape);
  }
}

/** The reverse pass of y over `path`: d y / d x for each of xs; `done(node)` after each node's gradient. */
function walk(
  e: TapeEngine,
  path: TapeNode[],
  y: Tensor,
  xs: Tensor[],
  done: (node: TapeNode) => void,
): (Tensor | null)[] {
  const xIds = new Set(xs.map((x) => x.id));
  const found: boolean[] = [];
  const r = e.tidy('backward', () => {
    const grad = new GradientMap();
    grad.set(y.id, tf.onesLike(y));
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      if (node.gradient === undefined) {
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      }
      const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
      // The tape node turns a null dy into zeros itself (engine.ts addTapeNode).
      const inputGrads = node.gradient(dys as Tensor[]);
      // Tensors this node is done with: its outputs' gradients, and partial sums it replaced.
      const free = new Set<Tensor>();
      for (const o of node.outputs) {
        const dy = grad.get(o.id);
        if (dy !== undefined && !xIds.has(o.id)) {
          grad.delete(o.id);
          free.add(dy);
        }
      }
      for (const [name, x] of Object.entries(node.inputs)) {
        const fn = inputGrads[name];
        if (fn === undefined) {
          throw new Error(
            `Cannot backprop through input ${name} of ${node.kernelName}. Gradients found: ${Object.keys(inputGrads).join(', ')}.`,
          );
        }
        const dx = e.tidy(fn);
        if (dx.dtype !== 'float32') {
          throw new Error(
            `The gradient of ${node.kernelName}'s input ${name} must be float32, not ${dx.dtype}.`,
          );
        }
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `The gradient of ${node.kernelName}'s input '${name}' has shape [${dx.shape}], its input [${x.shape}].`,
          );
        }
        const cur = grad.get(x.id);
        if (cur === undefined) {
          grad.set(x.id, dx);
        } else {
          grad.set(x.id, tf.add(cur, dx));
          free.add(cur).add(dx);
        }
      }
      // A gradient function may hand back its dy (or one tensor for two inputs): free only what no
      // entry of the map still holds.
      for (const t of free) if (!grad.holds(t)) t.dispose();
      done(node);
    }
    const grads: Tensor[] = [];
    for (const x of xs) {
      const g = grad.get(x.id);
      found.push(g !== undefined);
      if (g !== undefined) grads.push(g);
    }
    return grads;
  });
  let k = 0;
  return found.map((has) => (has ? r[k++]! : null));
}
