/**
 * Run folders, numbered like StyleGAN's (`runs/00007-demo-64px/`): each holds the resolved config,
 * the engine it ran on, metrics (JSONL), checkpoints and pictures, so a run explains itself and
 * `--resume` needs nothing else.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

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
