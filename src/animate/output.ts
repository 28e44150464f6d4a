/**
 * Where animated frames go, by the output path's extension: a video (.mp4 .mov .mkv H.264, .webm
 * VP9, .avi MPEG-4, through ffmpeg, with the driver's audio track when it has one), `.gif` (one
 * palette for the clip), a name without an extension (or ending in "/") a folder of PNG frames;
 * anything else is refused. Frames stream to ffmpeg as they are made; everything is written under a temporary
 * name and renamed into place at the end, so a failure or Ctrl-C leaves no half-written output.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, sep } from 'node:path';
import { InputError } from '../core/errors.js';
import { encodePng, type RgbImage } from '../media/png.js';
import { findFfmpeg } from '../media/ffmpeg.js';
import { gifWithComment, watermark } from '../media/provenance.js';
import { VideoEncoder } from '../media/video.js';
import { commitRename, withoutPath, withPath, writeAndSync } from '../io/atomic.js';

export type OutputKind = 'video' | 'gif' | 'frames';

// even sizes for yuv420p; a CRF that keeps 64px faces sharp
const H264 = ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '18'];
/** The video containers animate writes: ffmpeg's video and audio codecs for each. */
const VIDEO_FORMATS: Record<string, { video: string[]; audio: string[] }> = {
  '.mp4': { video: [...H264, '-movflags', '+faststart'], audio: ['-c:a', 'aac'] },
  '.mov': { video: [...H264, '-movflags', '+faststart'], audio: ['-c:a', 'aac'] },
  '.mkv': { video: H264, audio: ['-c:a', 'aac'] },
  '.avi': {
    video: ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'mpeg4', '-pix_fmt', 'yuv420p', '-q:v', '2'],
    audio: ['-c:a', 'libmp3lame'],
  },
  '.webm': {
    video: [
      '-vf',
      'pad=ceil(iw/2)*2:ceil(ih/2)*2',
      '-c:v',
      'libvpx-vp9',
      '-pix_fmt',
      'yuv420p',
      '-crf',
      '24',
      '-b:v',
      '0',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
    ],
    audio: ['-c:a', 'libopus'],
  },
};
export const VIDEO_EXTENSIONS_OUT = Object.keys(VIDEO_FORMATS);

/**
 * What `path` asks for: a video (.mp4 .mov .mkv .webm .avi), a GIF, or a folder of PNG frames (a name
 * without an extension, or ending in "/"). Anything else is refused, naming the choices.
 */
export function outputKind(path: string): OutputKind {
  if (path.endsWith('/') || path.endsWith(sep)) return 'frames';
  const ext = extname(path).toLowerCase();
  if (ext in VIDEO_FORMATS) return 'video';
  if (ext === '.gif') return 'gif';
  if (ext === '') return 'frames';
  throw new InputError(
    `-o "${path}": "${ext}" is not an output animate writes. Use a video (${VIDEO_EXTENSIONS_OUT.join(' ')}), .gif, or a folder name without an extension for PNG frames.`,
  );
}

export interface FrameWriter {
  write(frame: RgbImage): Promise<void>;
  /** finishes and renames into place */
  close(): Promise<void>;
  /** removes what was written */
  abort(): void;
}

/** Opens a writer for `path` (checked with `checkOutput` first). */
export interface OutputOptions {
  fps: number;
  /** a media file whose audio track goes into an MP4 */
  audio?: string | null;
  force?: boolean;
  /**
   * provenance.ts syntheticTag: in the MP4's `comment` metadata, the GIF's comment extension, each
   * PNG frame's tEXt chunk
   */
  tag?: string | null;
  /** draw a visible "SYNTHETIC" mark on every frame (provenance.ts watermark) */
  watermark?: boolean;
}

export function openOutput(path: string, o: OutputOptions): FrameWriter {
  const kind = outputKind(path);
  const mark = (f: RgbImage) => (o.watermark ? watermark(f) : f);
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
      write: async (f) => {
        try {
          writeAndSync(
            join(tmp, `frame-${String(n++).padStart(5, '0')}.png`),
            encodePng(mark(f), o.tag ?? undefined),
          );
        } catch (e) {
          throw withPath(withoutPath(e), path); // the folder asked for, not the temporary one
        }
      },
      close: async () => replace(),
      abort: () => rmSync(tmp, { recursive: true, force: true }),
    };
  }
  if (!findFfmpeg())
    throw new InputError(
      'ffmpeg not found: install it (apt-get install ffmpeg) or run npm ci, or write PNG frames (-o FOLDER)',
    );
  let enc: VideoEncoder | null = null;
  const format = VIDEO_FORMATS[extname(path).toLowerCase()];
  const start = (w: number, h: number) => {
    const inputs =
      format && o.audio ? ['-i', o.audio, '-map', '0:v', '-map', '1:a?', ...format.audio, '-shortest'] : [];
    const output = format
      ? [...format.video, ...(o.tag ? ['-metadata', `comment=${o.tag}`] : [])]
      : ['-vf', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse'];
    return new VideoEncoder(tmp, w, h, { fps: o.fps, inputs, output });
  };
  return {
    async write(f) {
      enc ??= start(f.width, f.height);
      await enc.write(mark(f).data);
    },
    async close() {
      if (!enc) throw new InputError('No frames were made, so no video was written');
      try {
        await enc.close();
        // ffmpeg's GIF muxer writes no comments: the tag goes in afterwards
        if (kind === 'gif' && o.tag) writeAndSync(tmp, gifWithComment(readFileSync(tmp), o.tag));
      } catch (e) {
        rmSync(tmp, { force: true });
        throw withPath(withoutPath(e), path);
      }
      replace();
    },
    abort() {
      enc?.kill();
      rmSync(tmp, { force: true });
    },
  };
}
