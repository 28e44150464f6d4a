/**
 * What `evaluate` keeps per (test video, T) in OUT/units/, so that an interrupted run resumes where it
 * stopped: the unit's scores and descriptors (JSON), its example strip and hold-out clips (PNG), and
 * the Inception-v3 features when FID was asked for (safetensors).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { cut, grid, readPng, type RgbImage } from '../media/png.js';
import { INCEPTION_FEATURES } from '../pretrained/inception.js';

/** The methods of the protocol, in table order (evaluate.ts says what each is). */
export const EVAL_METHODS = ['untrained', 'copy', 'feed-forward', 'fine-tuned'] as const;
export type EvalMethod = (typeof EVAL_METHODS)[number];

export interface MethodResult {
  ssim: number;
  psnr: number;
  csim: number;
  /** CSIM with ArcFace, when evaluate had its weights */
  csimArcface?: number;
  /** face-api descriptors of the generated frames (for FD-faceapi), rounded */
  descriptors: number[][];
}

/** What one (video, T) leaves in UNITS/. */
export interface UnitResult {
  video: string;
  identity: string;
  T: number;
  trainFrames: number[];
  evalFrames: number[];
  methods: Record<EvalMethod, MethodResult>;
  realDescriptors: number[][];
  seconds: { feedForward: number; fineTune: number; generatorPerFrame: number };
  fineTuneSteps: number;
}

export const unitFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}.json`);

export function saveUnit(out: string, u: UnitResult): void {
  mkdirSync(join(out, 'units'), { recursive: true });
  writeFileAtomic(unitFile(out, u.video, u.T), JSON.stringify(u) + '\n');
}

export function loadUnit(out: string, video: string, T: number): UnitResult | null {
  const f = unitFile(out, video, T);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as UnitResult;
  } catch {
    return null; // a damaged file is redone
  }
}

/** A unit's hold-out frames as rows (CLIP_ROWS) of one PNG, for the user study. */
export const CLIP_ROWS = ['real', 'feed-forward', 'fine-tuned'] as const;
export const clipsFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}-frames.png`);

export function clipsStrip(clips: Record<(typeof CLIP_ROWS)[number], RgbImage[]>): RgbImage {
  return grid(
    CLIP_ROWS.flatMap((row) => clips[row]),
    clips.real.length,
    0,
  );
}

/** The frames a unit's clips PNG holds: per row name, its frames. */
export function readClips(path: string): Record<(typeof CLIP_ROWS)[number], RgbImage[]> {
  const im = readPng(readFileSync(path));
  const r = im.height / CLIP_ROWS.length;
  const n = im.width / r;
  const out = {} as Record<(typeof CLIP_ROWS)[number], RgbImage[]>;
  CLIP_ROWS.forEach((row, j) => {
    out[row] = Array.from({ length: n }, (_, i) => cut(im, i * r, j * r, r, r));
  });
  return out;
}

export const inceptionFile = (dir: string, video: string, T: number) =>
  join(dir, 'units', `${video.replaceAll('/', '_')}-T${T}-inception.safetensors`);

export function saveInception(path: string, f: Record<string, Float32Array[]>): void {
  const tensors = new Map(
    Object.entries(f).map(([k, xs]) => {
      const data = new Float32Array(xs.length * INCEPTION_FEATURES);
      xs.forEach((x, i) => data.set(x, i * INCEPTION_FEATURES));
      return [k, { shape: [xs.length, INCEPTION_FEATURES], data }];
    }),
  );
  writeFileAtomic(path, encodeSafetensors(tensors));
}

export function loadInception(path: string): Record<string, Float32Array[]> {
  const out: Record<string, Float32Array[]> = {};
  for (const [k, t] of decodeSafetensors(readFileSync(path)).tensors) {
    const n = t.shape[0]!;
    out[k] = Array.from({ length: n }, (_, i) =>
      (t.data as Float32Array).slice(i * INCEPTION_FEATURES, (i + 1) * INCEPTION_FEATURES),
    );
  }
  return out;
}

/** Descriptors rounded to 5 decimals: unit files stay small and diff-able. */
export const round = (d: Float32Array) => Array.from(d, (v) => Math.round(v * 1e5) / 1e5);
