/**
 * Locating ffmpeg, which video decoding and encoding run through: on PATH first, else the binary
 * shipped by the npm package @ffmpeg-installer/ffmpeg.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

const require = createRequire(import.meta.url);

export interface Found {
  path: string;
  source: 'PATH' | 'npm';
}

function onPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function findFfmpeg(): Found | null {
  const p = onPath('ffmpeg');
  if (p) return { path: p, source: 'PATH' };
  try {
    const mod = require('@ffmpeg-installer/ffmpeg') as { path: string };
    if (existsSync(mod.path)) return { path: mod.path, source: 'npm' };
  } catch {
    // package not installed
  }
  return null;
}
