/**
 * The tables and the examples sheet of `evaluate`: per (method, T) means and Fréchet distances over
 * the units, laid out as the paper's Table 1 (with its numbers beside) and Table 2 (timings).
 */
import { existsSync } from 'node:fs';
import { drawText } from '../media/font.js';
import { cut, grid, paste, upscale, type RgbImage } from '../media/png.js';
import { fitGaussian, frechetDistance, frechetDistanceOfSamples } from './frechet.js';
import { CSIM_NAME, FD_NAME } from './identity.js';
import { EVAL_METHODS, inceptionFile, loadInception, type EvalMethod, type UnitResult } from './units.js';

/** The paper's Table 1 (VoxCeleb2; FID, SSIM, CSIM, USER) for its FF and FT rows (docs/design.md sec. 6). */
export const PAPER_TABLE1: Record<string, { fid: number; ssim: number; csim: number; user: number }> = {
  'feed-forward 1': { fid: 46.1, ssim: 0.61, csim: 0.42, user: 0.43 },
  'fine-tuned 1': { fid: 48.5, ssim: 0.64, csim: 0.35, user: 0.46 },
  'feed-forward 8': { fid: 42.2, ssim: 0.64, csim: 0.47, user: 0.4 },
  'fine-tuned 8': { fid: 42.2, ssim: 0.68, csim: 0.42, user: 0.39 },
  'feed-forward 32': { fid: 40.4, ssim: 0.65, csim: 0.48, user: 0.38 },
  'fine-tuned 32': { fid: 30.6, ssim: 0.72, csim: 0.45, user: 0.33 },
};
/** The paper's Table 2 timings (one P40): fine-tuning seconds per T, generator seconds per frame. */
export const PAPER_TIMING = {
  fineTune: { 1: 43.8, 8: 85.5, 32: 258 } as Record<number, number>,
  frame: 0.139,
};

export interface TableRow {
  method: EvalMethod;
  T: number;
  videos: number;
  fd: number;
  /** FID (Inception-v3 pool3), when every unit of this T has its features */
  fid?: number;
  /** CSIM with ArcFace, when every unit of this T has it */
  csimArcface?: number;
  ssim: number;
  psnr: number;
  csim: number;
}

/** Means per (method, T) and FD-faceapi over all their frames. */
export function summarise(units: UnitResult[], Ts: number[], out?: string): TableRow[] {
  const rows: TableRow[] = [];
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (us.length === 0) continue;
    const real = fitGaussian(us.flatMap((u) => u.realDescriptors));
    const files = out ? us.map((u) => inceptionFile(out, u.video, u.T)) : [];
    const inc = files.length && files.every(existsSync) ? files.map(loadInception) : null;
    for (const method of EVAL_METHODS) {
      const m = us.map((u) => u.methods[method]);
      const mean = (k: 'ssim' | 'psnr' | 'csim') => m.reduce((s, x) => s + x[k], 0) / m.length;
      rows.push({
        method,
        T,
        videos: us.length,
        fd: frechetDistance(fitGaussian(m.flatMap((x) => x.descriptors)), real),
        // 2048-D features, a few hundred frames: the sample route (frechet.ts)
        ...(inc
          ? {
              fid: frechetDistanceOfSamples(
                inc.flatMap((f) => f[method]!),
                inc.flatMap((f) => f['real']!),
              ),
            }
          : {}),
        ssim: mean('ssim'),
        psnr: mean('psnr'),
        csim: mean('csim'),
        ...(m.every((x) => x.csimArcface !== undefined)
          ? { csimArcface: m.reduce((t, x) => t + x.csimArcface!, 0) / m.length }
          : {}),
      });
    }
  }
  return rows;
}

/** The paper's Table 1 layout: our rows, and the paper's numbers where it has the row. */
export function table1(rows: TableRow[], title: string): string {
  const withFid = rows.some((r) => r.fid !== undefined);
  const withArc = rows.some((r) => r.csimArcface !== undefined);
  const lines = [
    title,
    `${'method'.padEnd(13)} ${'T'.padStart(3)}  ${withFid ? `${'FID'.padStart(8)}  ` : ''}${FD_NAME.padStart(10)}  ${'SSIM'.padStart(6)}  ${'PSNR'.padStart(6)}  ${CSIM_NAME.padStart(12)}${withArc ? '    CSIM' : ''}   | paper (VoxCeleb2): FID   SSIM  CSIM  USER`,
  ];
  for (const r of rows) {
    const p = PAPER_TABLE1[`${r.method} ${r.T}`];
    lines.push(
      `${r.method.padEnd(13)} ${String(r.T).padStart(3)}  ${withFid ? `${(r.fid ?? NaN).toFixed(2).padStart(8)}  ` : ''}${r.fd.toFixed(3).padStart(10)}  ${r.ssim.toFixed(3).padStart(6)}  ${r.psnr.toFixed(2).padStart(6)}  ${r.csim.toFixed(3).padStart(12)}${withArc ? (r.csimArcface ?? NaN).toFixed(3).padStart(8) : ''}   |` +
        (p
          ? `                    ${p.fid.toFixed(1).padStart(4)}  ${p.ssim.toFixed(2)}  ${p.csim.toFixed(2)}  ${p.user.toFixed(2)}`
          : ''),
    );
  }
  lines.push(
    `Not comparable column to column: the paper's data is VoxCeleb2 at 256px and its features Inception-v3 (FID) and ArcFace (CSIM); ` +
      `here ${FD_NAME} and ${CSIM_NAME} use face-api's face-recognition descriptor. Compare rows within this table. ` +
      `USER: see talking-heads user-study.`,
  );
  return lines.join('\n');
}

/** Table 2's layout: this run's timings beside the paper's (one P40). */
export function table2(units: UnitResult[], Ts: number[], backend: string): string {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const row = (what: string, ours: string, paper: string) => `${what.padEnd(26)} ${ours.padEnd(22)} ${paper}`;
  const lines = [`Timing on ${backend}`, row('', 'this run', 'paper (one P40)')];
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (!us.length) continue;
    const steps = mean(us.map((u) => u.fineTuneSteps)).toFixed(0);
    const s = mean(us.map((u) => u.seconds.fineTune)).toFixed(1);
    lines.push(
      row(`fine-tuning, T = ${T}`, `${s} s (${steps} steps)`, `${PAPER_TIMING.fineTune[T] ?? '-'} s`),
    );
  }
  for (const T of Ts) {
    const us = units.filter((u) => u.T === T);
    if (us.length)
      lines.push(
        row(
          `feed-forward, T = ${T}`,
          `${mean(us.map((u) => u.seconds.feedForward)).toFixed(2)} s`,
          '0.06-0.22 s',
        ),
      );
  }
  const ms = (1000 * mean(units.map((u) => u.seconds.generatorPerFrame))).toFixed(1);
  lines.push(row('generator per frame', `${ms} ms`, `${PAPER_TIMING.frame * 1000} ms`));
  return lines.join('\n');
}

export const SHEET_COLUMNS = [
  'given',
  'landmarks',
  'real',
  'copy',
  'untrained',
  'feed-forward',
  'fine-tuned',
] as const;

/** One unit's examples as a strip (given frame, target landmarks, real, then each method), kept in UNITS/. */
export function strip(images: Record<(typeof SHEET_COLUMNS)[number], RgbImage>): RgbImage {
  return grid(
    SHEET_COLUMNS.map((c) => images[c]),
    SHEET_COLUMNS.length,
    0,
  );
}

/** The examples sheet of one T: a labelled column per method, a row per video (its first hold-out frame). */
export function examplesSheet(strips: RgbImage[], T: number, scale = 2): RgbImage {
  const n = SHEET_COLUMNS.length;
  const small = strips[0]!.width / n;
  const r = small * scale;
  const gap = 4;
  const top = 30;
  const w = n * (r + gap);
  const h = top + strips.length * (r + gap);
  const im: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) };
  drawText(
    im,
    `T = ${T}: THE FIRST HOLD-OUT FRAME OF EACH TEST VIDEO. GENERATED COLUMNS ARE SYNTHETIC.`,
    2,
    2,
  );
  SHEET_COLUMNS.forEach((c, j) => drawText(im, c.toUpperCase(), j * (r + gap) + 2, 16));
  strips.forEach((s, i) => {
    for (let j = 0; j < n; j++)
      paste(im, upscale(cut(s, j * small, 0, small, small), scale), j * (r + gap), top + i * (r + gap));
  });
  return im;
}
