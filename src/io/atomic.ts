/**
 * Durable file writes, the lowest layer every writer sits on (datasets, PNGs, checkpoints, models,
 * videos): a file is written under a temporary name in its own folder, fsynced and renamed into
 * place, so a crash or a full disk leaves either the old file or the new one, never half of one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A temporary name beside `path` (same folder, so the rename is atomic), unique to this process. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

/** Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, bytes: Buffer | Uint8Array | string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(path);
  try {
    writeAndSync(tmp, bytes);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw withPath(e, path);
  }
  renameSync(tmp, path);
  syncDir(dir);
}

/** Writes and fsyncs one file (not atomic on its own: callers write to a temporary name). */
export function writeAndSync(path: string, bytes: Buffer | Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    throw withPath(e, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * A file-system error with the path the user asked for: Node's write errors (ENOSPC above all) carry
 * none, and a temporary name is not one the user knows. The CLI says it in words (cli/errors.ts).
 */
export function withoutPath(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && err.path?.includes('.tmp-')) delete err.path;
  return e;
}

export function withPath(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && err.code && (!err.path || err.path.includes('.tmp-')))
    err.path = path;
  return e;
}

/** fsyncs a folder, so a rename inside it survives a crash. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Renames a finished temporary file or folder into place and makes the rename durable. */
export function commitRename(tmp: string, path: string): void {
  renameSync(tmp, path);
  syncDir(dirname(path));
}
