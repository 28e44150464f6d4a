/**
 * `talking-heads compare A B`: two images, or two videos frame by frame, scored with the evaluation
 * protocol's own metrics (SSIM, PSNR, CSIM-faceapi) so any output can be measured against a
 * reference the way `evaluate` measures models.
 */
import { InputError } from '../core/errors.js';
import { decodeFrames, probe, type Frame } from '../media/video.js';
import { CSIM_NAME, csim } from './identity.js';
import { psnr, ssim } from './metrics.js';
import { type RgbImage } from '../media/image.js';

export interface CompareResult {
  a: string;
  b: string;
  width: number;
  height: number;
  /** per compared frame */
  frames: { ssim: number; psnr: number; csim: number }[];
  mean: { ssim: number; psnr: number; csim: number };
  /** which metric CSIM is (the identity network it used) */
  csimName: string;
  /** set when the two had different frame counts (the common first frames were compared) */
  note?: string;
}

async function readAll(path: string): Promise<Frame[]> {
  probe(path); // a clear MediaError for a missing or unreadable file
  const frames: Frame[] = [];
  for await (const f of decodeFrames(path)) frames.push(f);
  return frames;
}

/** Compares two images or two videos of the same size, frame by frame. */
export async function compareMedia(a: string, b: string, batch = 32): Promise<CompareResult> {
  const [fa, fb] = await Promise.all([readAll(a), readAll(b)]);
  const w = fa[0]!.width;
  const h = fa[0]!.height;
  if (fb[0]!.width !== w || fb[0]!.height !== h)
    throw new InputError(
      `"${a}" is ${w}x${h} and "${b}" is ${fb[0]!.width}x${fb[0]!.height}: compare needs the same size ` +
        `(resize one, e.g. ffmpeg -i B -vf scale=${w}:${h} B2.mp4)`,
    );
  const n = Math.min(fa.length, fb.length);
  const frames: CompareResult['frames'] = [];
  const im = (f: Frame): RgbImage => ({ width: w, height: h, data: f.rgb });
  for (let i = 0; i < n; i += batch) {
    const xa = fa.slice(i, Math.min(n, i + batch)).map(im);
    const xb = fb.slice(i, Math.min(n, i + batch)).map(im);
    const c = csim(xa, xb);
    xa.forEach((x, k) => frames.push({ ssim: ssim(x, xb[k]!), psnr: psnr(x, xb[k]!), csim: c[k]! }));
  }
  const mean = (key: 'ssim' | 'psnr' | 'csim') => {
    const finite = frames.map((f) => f[key]).filter(Number.isFinite);
    return finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : Infinity;
  };
  const result: CompareResult = {
    a,
    b,
    width: w,
    height: h,
    frames,
    mean: { ssim: mean('ssim'), psnr: mean('psnr'), csim: mean('csim') },
    csimName: CSIM_NAME,
  };
  if (fa.length !== fb.length)
    result.note = `"${a}" has ${fa.length} frames and "${b}" ${fb.length}: the first ${n} were compared`;
  return result;
}

/** The table `compare` prints. */
export function compareTable(r: CompareResult, perFrame: boolean): string {
  const lines = [`${r.a} vs ${r.b} (${r.width}x${r.height}, ${r.frames.length} frame(s))`];
  if (r.note) lines.push(`note: ${r.note}`);
  const row = (label: string, m: { ssim: number; psnr: number; csim: number }) =>
    `${label.padEnd(8)} ${m.ssim.toFixed(4).padStart(7)} ${(Number.isFinite(m.psnr) ? m.psnr.toFixed(2) : 'inf').padStart(9)} ${m.csim.toFixed(4).padStart(13)}`;
  lines.push(
    `${'frame'.padEnd(8)} ${'SSIM'.padStart(7)} ${'PSNR (dB)'.padStart(9)} ${r.csimName.padStart(13)}`,
  );
  if (perFrame) r.frames.forEach((f, i) => lines.push(row(String(i), f)));
  lines.push(row('mean', r.mean));
  lines.push(
    'SSIM: Wang et al. 2004 (Gaussian 11/1.5, K1 0.01, K2 0.03, data range 255, RGB mean); PSNR over RGB; ' +
      `${r.csimName}: cosine of face-api descriptors of the whole frames (a stand-in for the paper's ArcFace CSIM)`,
  );
  return lines.join('\n');
}
