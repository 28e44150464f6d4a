/**
 * Run folders, numbered like StyleGAN's (`runs/00007-meta-small-ff/`), and the run object that owns
 * everything a training loop writes besides the weights' updates: config.json (resolved config, the
 * engine it ran on, data hash), metrics (JSONL + TensorBoard), sample pictures, checkpoints (saved
 * atomically, pruned, never from non-finite weights), the newest intact checkpoint for --resume,
 * Ctrl-C and the NaN stop. Meta-learning and fine-tuning both run through it, so their loops read
 * straight through:
 *
 *   runs/00004-meta-small-ft/
 *     config.json  metrics.jsonl  events.out.tfevents.*  samples/step-00000500.png  checkpoints/step-*
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writePng, type RgbImage } from '../media/png.js';
import { writeFileAtomic } from '../io/atomic.js';
import { flatten, type ParamTree } from '../nn/params.js';
import {
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  stepDirName,
  type CheckpointInfo,
  type CheckpointTrees,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { ScalarWriter } from './tensorboard.js';
import { syntheticTag } from '../media/provenance.js';

export function createRunDir(root: string, desc: string): string {
  mkdirSync(root, { recursive: true });
  const ids = readdirSync(root)
    .map((n) => /^(\d{5})-/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  const next = ids.length ? Math.max(...ids) + 1 : 0;
  const safe = desc.replace(/[^A-Za-z0-9_.-]+/g, '-');
  const dir = join(root, `${String(next).padStart(5, '0')}-${safe}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Appends one JSON record per line (metrics log). */
export function appendJsonl(path: string, record: unknown): void {
  appendFileSync(path, JSON.stringify(record) + '\n');
}

export function requireRunDir(dir: string): string {
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(`"${dir}" is not a run folder (no config.json). Pass the folder a previous run printed.`);
  }
  return dir;
}

/** Whether every value of every tensor is finite (a checkpoint is never saved from NaN weights). */
export function allFinite(tree: ParamTree): boolean {
  for (const t of flatten(tree).values()) if (!t.dataSync().every(Number.isFinite)) return false;
  return true;
}

export interface RunOptions {
  keepCheckpoints?: number;
  log?: (s: string) => void;
}

export class Run {
  readonly checkpointsDir: string;
  private tb: ScalarWriter | null = null;
  private interrupted = false;
  private readonly onSigint = () => {
    this.interrupted = true;
  };
  private readonly t0 = performance.now();
  private readonly log: (s: string) => void;

  private constructor(
    readonly dir: string,
    private readonly o: RunOptions,
  ) {
    this.checkpointsDir = join(dir, 'checkpoints');
    this.log = o.log ?? console.log;
    process.once('SIGINT', this.onSigint);
  }

  /** A new numbered folder under `root`, with `record` written as its config.json. */
  static create(root: string, desc: string, record: Record<string, unknown>, o: RunOptions = {}): Run {
    const run = new Run(createRunDir(root, desc), o);
    writeJson(join(run.dir, 'config.json'), record);
    return run;
  }

  /** An existing run folder (to resume it). */
  static open(dir: string, o: RunOptions = {}): Run {
    return new Run(requireRunDir(dir), o);
  }

  /** Appends a metrics record (JSONL and TensorBoard). */
  metrics(step: number, m: Record<string, number>): void {
    appendJsonl(join(this.dir, 'metrics.jsonl'), { step, time: (performance.now() - this.t0) / 1000, ...m });
    this.tb ??= new ScalarWriter(this.dir);
    this.tb.scalars(step, m);
  }

  /**
   * Writes samples/step-NNNNNNNN.png (or samples/NAME.png), tagged synthetic (generated frames are
   * in it), and returns its path.
   */
  sample(step: number | string, image: RgbImage): string {
    const name = typeof step === 'number' ? stepDirName(step) : step;
    const path = join(this.dir, 'samples', `${name}.png`);
    writePng(path, image, syntheticTag(`run ${basename(this.dir)}, ${name}`));
    return path;
  }

  /**
   * Saves a checkpoint and prunes old ones, unless the weights in `trees.params` went non-finite:
   * then nothing is written (the last good checkpoint stays) and false is returned.
   */
  checkpoint(step: number, trees: CheckpointTrees, info: CheckpointInfo): boolean {
    if (trees['params'] && !allFinite(trees['params'])) return false;
    saveCheckpoint(this.checkpointsDir, step, trees, info);
    pruneCheckpoints(this.checkpointsDir, this.o.keepCheckpoints ?? 3);
    return true;
  }

  /**
   * The newest checkpoint that loads and passes its checks. A corrupt or truncated newer one is
   * skipped with a message saying which and why, so a damaged file never blocks --resume while an
   * older intact checkpoint exists. With `setAside` (resuming, which goes on to save and prune) the
   * skipped ones are renamed to step-N.corrupt, so pruning never keeps one in place of an intact
   * checkpoint; reading a model from the run leaves its folder as it is.
   */
  latestIntact(o: { setAside?: boolean } = {}): LoadedCheckpoint | null {
    const all = listCheckpoints(this.checkpointsDir).reverse();
    const skipped: string[] = [];
    for (const c of all) {
      try {
        const loaded = loadCheckpoint(c.dir);
        if (skipped.length)
          this.log(
            `Using ${c.dir} (step ${c.step}), the newest intact checkpoint; skipped:\n  ${skipped.join('\n  ')}`,
          );
        return loaded;
      } catch (e) {
        let why = (e as Error).message;
        if (o.setAside) {
          const aside = `${c.dir}.corrupt`;
          rmSync(aside, { recursive: true, force: true });
          renameSync(c.dir, aside);
          why = `(moved to ${basename(aside)}) ${why}`;
        }
        skipped.push(`${c.dir}: ${why}`);
      }
    }
    if (skipped.length)
      throw new Error(`Cannot resume "${this.dir}": no intact checkpoint.\n  ${skipped.join('\n  ')}`);
    return null;
  }

  /** Lets Ctrl-C through (one macrotask) and says whether the run should stop now. */
  async shouldStop(): Promise<boolean> {
    await new Promise<void>((r) => setImmediate(r));
    return this.interrupted;
  }

  /** Asks the loop to stop after the current step, as Ctrl-C does (tests use it). */
  requestStop(): void {
    this.interrupted = true;
  }

  close(): void {
    process.removeListener('SIGINT', this.onSigint);
  }
}
