/**
 * Decoding videos and photos with ffmpeg (on PATH, else the binary of @ffmpeg-installer/ffmpeg):
 * frames come out of a pipe as raw RGB, at a chosen frame rate, optionally downscaled, one at a time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findFfmpeg } from './ffmpeg.js';

export class MediaError extends Error {
  override name = 'MediaError';
}

export interface MediaInfo {
  width: number;
  height: number;
  /** frames per second of the stream (NaN for a still image) */
  fps: number;
  /** seconds, NaN when unknown */
  duration: number;
  /** it has an audio stream */
  audio: boolean;
}

export interface Frame {
  index: number;
  width: number;
  height: number;
  /** HWC uint8 RGB */
  rgb: Uint8Array;
}

function ffmpegPath(): string {
  const f = findFfmpeg();
  if (!f)
    throw new MediaError(
      'ffmpeg not found: install it (apt-get install ffmpeg) or run npm ci (it brings @ffmpeg-installer/ffmpeg)',
    );
  return f.path;
}

function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** Reads the first video stream's size, frame rate and duration. */
export function probe(path: string): MediaInfo {
  if (!existsSync(path)) throw new MediaError(`Cannot read "${path}": no such file`);
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-i', path], { encoding: 'utf8' });
  const text = r.stderr ?? '';
  const stream = /Stream #\d+:\d+[^:]*: Video: [^\n]*?(\d{2,5})x(\d{2,5})[^\n]*/.exec(text);
  if (!stream) {
    throw new MediaError(
      `Cannot read "${path}": ffmpeg finds no video or image in it (${tail(text, 1) || 'no output'})`,
    );
  }
  const fps = /([\d.]+) fps/.exec(stream[0]);
  const dur = /Duration: (\d+):(\d+):([\d.]+)/.exec(text);
  return {
    width: Number(stream[1]),
    height: Number(stream[2]),
    fps: fps ? Number(fps[1]) : NaN,
    duration: dur ? Number(dur[1]) * 3600 + Number(dur[2]) * 60 + Number(dur[3]) : NaN,
    audio: /Stream #\d+:\d+[^:]*: Audio: /.test(text),
  };
}

/** A media file's container tags (title, comment, ...; names lower-cased: Matroska writes COMMENT), as ffmpeg reads them (what ffprobe shows). */
export function mediaTags(path: string): Record<string, string> {
  if (!existsSync(path)) throw new MediaError(`Cannot read "${path}": no such file`);
  const r = spawnSync(
    ffmpegPath(),
    ['-hide_banner', '-loglevel', 'error', '-i', path, '-f', 'ffmetadata', '-'],
    {
      encoding: 'utf8',
    },
  );
  const out: Record<string, string> = {};
  for (const line of (r.stdout ?? '').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith(';')) out[line.slice(0, eq).toLowerCase()] = line.slice(eq + 1);
  }
  return out;
}

export interface DecodeOptions {
  /** sample at this rate (frames per second); default: every frame */
  fps?: number | undefined;
  /** stop after this many frames */
  maxFrames?: number | undefined;
  /** downscale so the longer side is at most this (keeps aspect, even sizes) */
  maxSize?: number | undefined;
}

/** Output size after the maxSize limit: aspect kept, even dimensions (what ffmpeg's scale gives). */
export function scaledSize(w: number, h: number, maxSize?: number): [number, number] {
  if (!maxSize || Math.max(w, h) <= maxSize) return [w, h];
  const s = maxSize / Math.max(w, h);
  const even = (x: number) => Math.max(2, 2 * Math.round((x * s) / 2));
  return [even(w), even(h)];
}

/**
 * Decodes frames as raw RGB. Errors (unreadable or corrupt input) reject with ffmpeg's last words;
 * frames decoded before a mid-stream error are still yielded first.
 */
export async function* decodeFrames(path: string, opts: DecodeOptions = {}): AsyncGenerator<Frame> {
  const info = probe(path);
  const [w, h] = scaledSize(info.width, info.height, opts.maxSize);
  const filters: string[] = [];
  // A still image (or a clip shorter than one sampling period) keeps its frame(s).
  const still = !(info.duration * (opts.fps ?? 0) >= 1);
  if (opts.fps && !still) filters.push(`fps=${opts.fps}`);
  if (w !== info.width || h !== info.height) filters.push(`scale=${w}:${h}:flags=area`);
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', path, '-map', '0:v:0'];
  if (filters.length) args.push('-vf', filters.join(','));
  if (opts.maxFrames) args.push('-frames:v', String(opts.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
  const proc = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<number>((resolve) => proc.on('close', (code) => resolve(code ?? -1)));
  const size = w * h * 3;
  // Chunks (64 KiB) are copied once, straight into the frame they belong to.
  let rgb = new Uint8Array(size);
  let filled = 0;
  let index = 0;
  try {
    for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(size - filled, chunk.length - off);
        rgb.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === size) {
          yield { index: index++, width: w, height: h, rgb };
          rgb = new Uint8Array(size);
          filled = 0;
        }
      }
    }
  } finally {
    if (proc.exitCode === null) proc.kill();
  }
  const code = await exited;
  if (code !== 0 && !(opts.maxFrames && index >= opts.maxFrames)) {
    throw new MediaError(
      `Cannot decode "${path}" (ffmpeg exit ${code} after ${index} frames): ${tail(stderr) || 'no message'}`,
    );
  }
  if (index === 0)
    throw new MediaError(`Cannot decode "${path}": no frames (${tail(stderr) || 'empty stream'})`);
}

/**
 * Streams raw RGB frames into ffmpeg, which writes `path` with the given output arguments (codec,
 * filters...; default: MPEG-4 part 2, or a GIF by extension). Frames are written as they come, with
 * back-pressure, so memory does not grow with the number of frames.
 */
export class VideoEncoder {
  private readonly proc: ReturnType<typeof spawn>;
  private readonly exited: Promise<number>;
  private stderr = '';

  constructor(
    readonly path: string,
    readonly width: number,
    readonly height: number,
    o: { fps?: number; inputs?: string[]; output?: string[] } = {},
  ) {
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24'];
    args.push('-s', `${width}x${height}`, '-r', String(o.fps ?? 25), '-i', '-', ...(o.inputs ?? []));
    args.push(
      ...(o.output ?? (path.endsWith('.gif') ? [] : ['-pix_fmt', 'yuv420p', '-c:v', 'mpeg4', '-q:v', '3'])),
    );
    args.push(path);
    this.proc = spawn(ffmpegPath(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.proc.stdin!.on('error', () => {}); // a dead ffmpeg is reported by close()
    this.exited = new Promise<number>((resolve) => this.proc.on('close', (c) => resolve(c ?? -1)));
  }

  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.width * this.height * 3)
      throw new RangeError(`VideoEncoder: ${rgb.length} bytes for a ${this.width}x${this.height} RGB frame`);
    if (!this.proc.stdin!.write(rgb)) await new Promise((r) => this.proc.stdin!.once('drain', r));
  }

  /** Finishes the file; rejects with ffmpeg's last words when it failed. */
  async close(): Promise<void> {
    this.proc.stdin!.end();
    const code = await this.exited;
    // ffmpeg can exit 0 after failing to write the file's end (a full disk: "Error writing trailer
    // ... No space left on device"); at -loglevel error anything it says is a failure.
    if (/No space left on device/i.test(this.stderr))
      throw Object.assign(new MediaError(`Cannot write "${this.path}": no space left on device`), {
        code: 'ENOSPC',
        path: this.path,
      });
    if (code !== 0 || /error/i.test(this.stderr))
      throw new MediaError(`Cannot write "${this.path}" (ffmpeg exit ${code}): ${tail(this.stderr)}`);
  }

  kill(): void {
    this.proc.kill();
  }
}

/** Encodes RGB frames to a video file (tests). */
export async function encodeVideo(
  path: string,
  frames: Iterable<Uint8Array>,
  width: number,
  height: number,
  fps = 25,
): Promise<void> {
  const enc = new VideoEncoder(path, width, height, { fps });
  for (const f of frames) await enc.write(f);
  await enc.close();
}
