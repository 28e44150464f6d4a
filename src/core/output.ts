/**
 * Checking an output path before any work, so that a long command does not fail at its end on a
 * path it could have refused at its start.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from './errors.js';

/**
 * Exists (without --force), a file where a folder is wanted or the reverse (`folder`: the output
 * is a folder, e.g. animation's PNG frames), folder unwritable.
 */
export function checkOutput(path: string, force: boolean, folder: boolean): void {
  if (existsSync(path) && !force)
    throw new InputError(
      `Output "${path}" already exists. Pass --force to replace it, or choose another -o.`,
    );
  if (existsSync(path) && statSync(path).isDirectory() !== folder)
    throw new InputError(
      `Output "${path}" exists and is a ${statSync(path).isDirectory() ? 'folder' : 'file'}; choose another -o.`,
    );
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new InputError(
      `Cannot write "${path}": its folder "${dir}" is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Choose another -o.`,
    );
  }
  if (!statSync(dir).isDirectory()) throw new InputError(`Cannot write "${path}": "${dir}" is not a folder.`);
}
