/**
 * Where animated frames go, by the output path's extension: `.mp4` (H.264 through ffmpeg, with the
 * driver's audio track when it has one), `.gif` (one palette for the clip), anything else a folder
 * of PNG frames. Frames stream to ffmpeg as they are made; everything is written under a temporary
 * name and renamed into place at the end, so a failure or Ctrl-C leaves no half-written output.
 */
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../data/fewshot.js';
import { encodePng, type RgbImage } from '../data/png.js';
import { findFfmpeg } from '../data/tools.js';
import { VideoEncoder } from '../data/video.js';
import { writeAndSync, commitRename } from '../io/atomic.js';

export type OutputKind = 'mp4' | 'gif' | 'frames';

export function outputKind(path: string): OutputKind {
  const ext = extname(path).toLowerCase();
  return ext === '.mp4' ? 'mp4' : ext === '.gif' ? 'gif' : 'frames';
}

/**
 * Checks an output path before any work: exists (without --force), a file where a folder is wanted
 * or the reverse (`folder`: by default, a frames folder for animation), folder unwritable.
 */
export function checkOutput(path: string, force: boolean, folder = outputKind(path) === 'frames'): void {
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

export interface FrameWriter {
  write(frame: RgbImage): Promise<void>;
  /** finishes and renames into place */
  close(): Promise<void>;
  /** removes what was written */
  abort(): void;
}

/** Opens a writer for `path` (checked with `checkOutput` first). */
export function openOutput(
  path: string,
  o: { fps: number; audio?: string | null; force?: boolean },
): FrameWriter {
  const kind = outputKind(path);
  const tmp = join(dirname(path), `.${basename(path, extname(path))}.tmp-${process.pid}${extname(path)}`);
  rmSync(tmp, { recursive: true, force: true });
  const replace = () => {
    if (o.force && existsSync(path)) rmSync(path, { recursive: true, force: true });
    commitRename(tmp, path);
  };
  if (kind === 'frames') {
    mkdirSync(tmp, { recursive: true });
    let n = 0;
    return {
      write: async (f) => writeAndSync(join(tmp, `frame-${String(n++).padStart(5, '0')}.png`), encodePng(f)),
      close: async () => replace(),
      abort: () => rmSync(tmp, { recursive: true, force: true }),
    };
  }
  if (!findFfmpeg())
    throw new InputError(
      'ffmpeg not found: install it (apt-get install ffmpeg) or run npm ci, or write PNG frames (-o FOLDER)',
    );
  let enc: VideoEncoder | null = null;
  const start = (w: number, h: number) => {
    const inputs =
      kind === 'mp4' && o.audio
        ? ['-i', o.audio, '-map', '0:v', '-map', '1:a?', '-c:a', 'aac', '-shortest']
        : [];
    const output =
      kind === 'mp4'
        ? // even sizes for yuv420p; a CRF that keeps 64px faces sharp
          [
            '-vf',
            'pad=ceil(iw/2)*2:ceil(ih/2)*2',
            '-c:v',
            'libx264',
            '-pix_fmt',
            'yuv420p',
            '-crf',
            '18',
            '-movflags',
            '+faststart',
          ]
        : ['-vf', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse'];
    return new VideoEncoder(tmp, w, h, { fps: o.fps, inputs, output });
  };
  return {
    async write(f) {
      enc ??= start(f.width, f.height);
      await enc.write(f.data);
    },
    async close() {
      if (!enc) throw new InputError('No frames were made, so no video was written');
      try {
        await enc.close();
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      replace();
    },
    abort() {
      enc?.kill();
      rmSync(tmp, { force: true });
    },
  };
}
