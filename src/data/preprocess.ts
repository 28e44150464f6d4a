/**
 * Real media -> dataset (docs/design.md sec. 2): decode videos (any format ffmpeg reads; the VoxCeleb
 * layout id/video/clip.mp4 included) or photos, sample frames at a chosen rate, detect faces and 68
 * landmarks, follow the main face, crop with temporal smoothing, resize, write the dataset.
 *
 * Units: each video file is one dataset video; a folder of photos is one video whose frames are its
 * photos (one person's few shots); a photo at the top level is a one-frame video. Identity = the
 * first folder below the input (VoxCeleb's speaker id), or the file name at the top level.
 * With `photosBy: 'name'` photos are grouped by file name instead: `neutral/001.jpg` and
 * `smiling/001.jpg` are one person "001" with two frames, in folder order (the London Set's layout);
 * a name found once is a one-frame person (a folder of portraits).
 *
 * Held-out people (`holdOut`): identities chosen here (a seeded draw, or named) are recorded in the
 * manifest (info.heldOut) so meta-learning never sees them and evaluation tests on them. A licence
 * file beside the input (LICENSE*, the input folder's or its parent's) is copied into the dataset:
 * images derived from other people's photos keep their terms next to them.
 *
 * Nothing is dropped silently: every frame without a face, every file that fails to decode and every
 * video left with too few frames is listed in the summary and in DIR/preprocess_log.json. Finished
 * videos are kept when the run is interrupted; running again with --resume skips them.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { chooseHeldOut, findUnits, licenceFiles, type Unit } from './inputs.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  cropResize,
  DEFAULT_CROP,
  landmarksInCrop,
  SquareSmoother,
  squareFor,
  type CropOptions,
  type Square,
} from '../faces/crop.js';
import { DatasetWriter } from './dataset_writer.js';
import { inShard, type Shard } from './shard.js';
import { runOrdered, startWorker } from '../engine/workers.js';
import { FaceDetector, type Detector } from '../faces/detect.js';
import {
  DEFAULT_TRACK,
  newTrackStats,
  trackLandmarks,
  type FrameFlag,
  type TrackOptions,
  type TrackStats,
} from '../faces/track.js';
import { decodeFrames, type Frame } from '../media/video.js';

export interface PreprocessOptions {
  input: string;
  out: string;
  resolution: number;
  /** frames sampled per second of video */
  fps: number;
  /** at most this many frames per video (0 = all) */
  maxFrames: number;
  /** videos with fewer frames with a face are dropped (and reported) */
  minFrames: number;
  minConfidence: number;
  /** frames are decoded with the longer side at most this */
  maxSize: number;
  crop: CropOptions;
  resume: boolean;
  /** only this shard of the inputs (shard.ts); null: all of them */
  shard: Shard | null;
  /** how photos become people: by folder (a folder = one person) or by file name across folders */
  photosBy: 'folder' | 'name';
  /** identities kept out of meta-learning: a count (a seeded draw) or their names; 0: none */
  holdOut: number | string[];
}

export const DEFAULT_PREPROCESS: Omit<PreprocessOptions, 'input' | 'out'> = {
  resolution: 256,
  fps: 5,
  maxFrames: 0,
  minFrames: 1,
  minConfidence: 0.5,
  maxSize: 1280,
  crop: DEFAULT_CROP,
  resume: false,
  shard: null,
  photosBy: 'folder',
  holdOut: 0,
};

export interface UnitReport {
  id: string;
  kind: Unit['kind'];
  files: string[];
  status: 'ok' | 'failed' | 'skipped';
  frames: number;
  kept: number;
  /** indices (frame, or photo) where no face was found */
  noFace: number[];
  /** frames left out although a face was found: its landmarks jumped, or its confidence was low */
  flagged?: { jump: number[]; lowConfidence: number[] };
  /** frames whose crop was fitted into the frame (a close-up: the face fills it) */
  limited?: number;
  /** detector runs, and how many found the face only on a padded copy */
  detections?: number;
  padded?: number;
  /** frames processed per second (decode, detection, landmarks, crops) */
  fps?: number;
  /** per kept frame, in dataset order: detection score x template match (track.ts), 2 decimals */
  confidence?: number[];
  reason?: string;
  seconds: number;
}

async function* unitFrames(u: Unit, o: PreprocessOptions): AsyncGenerator<Frame> {
  if (u.kind === 'video') {
    yield* decodeFrames(u.files[0]!, { fps: o.fps, maxFrames: o.maxFrames || undefined, maxSize: o.maxSize });
    return;
  }
  let index = 0;
  for (const f of u.files) {
    for await (const fr of decodeFrames(f, { maxFrames: 1, maxSize: o.maxSize }))
      yield { ...fr, index: index++ };
  }
}

export interface PreprocessResult {
  reports: UnitReport[];
  summary: string;
  logPath: string;
}

/** Where a unit's accepted frames go: straight into the dataset, or collected (in a worker). */
export interface FrameSink {
  addFrame(rgb: Uint8Array, landmarks: Float32Array): void;
  /** called after every frame, kept or not (progress) */
  frameDone?(): void;
}

/**
 * Decodes one unit, finds and follows its main face, crops; sends frames to `sink`. Returns the
 * report (status 'ok' unless decoding failed or too few frames had a face).
 */
export async function processUnit(
  u: Unit,
  o: PreprocessOptions,
  detector: Detector,
  sink: FrameSink,
): Promise<UnitReport> {
  const t0 = performance.now();
  const r: UnitReport = {
    id: u.id,
    kind: u.kind,
    files: u.files,
    status: 'ok',
    frames: 0,
    kept: 0,
    noFace: [],
    seconds: 0,
  };
  const stats = newTrackStats();
  const confidence: number[] = [];
  let limited = 0;
  try {
    const video = u.kind === 'video';
    for await (const t of trackFaces(unitFrames(u, o), detector, o, video, stats)) {
      r.frames++;
      sink.frameDone?.();
      if (!t.crop) {
        if (t.why === 'no-face') r.noFace.push(t.index);
        continue;
      }
      if (t.limited) limited++;
      confidence.push(Math.round(100 * t.confidence) / 100);
      sink.addFrame(t.crop, t.landmarks);
      r.kept++;
    }
    r.flagged = stats.flagged;
    r.limited = limited;
    r.confidence = confidence;
    r.detections = stats.detections;
    r.padded = stats.padded;
    if (r.kept < o.minFrames) {
      r.status = 'failed';
      r.reason =
        r.kept === 0
          ? 'no face found'
          : `only ${r.kept} frame(s) with a face, fewer than --min-frames ${o.minFrames}`;
    }
  } catch (e) {
    r.status = 'failed';
    r.reason = (e as Error).message;
  }
  r.seconds = (performance.now() - t0) / 1000;
  r.fps = r.seconds > 0 ? r.frames / r.seconds : 0;
  return r;
}

/**
 * One tracked frame: the crop and its landmarks; or, where the frame has no usable face, null with
 * why (no face found, landmarks jumped, confidence too low).
 */
export type TrackedFrame =
  | { index: number; crop: Uint8Array; landmarks: Float32Array; confidence: number; limited: boolean }
  | { index: number; crop: null; landmarks: null; why: 'no-face' | FrameFlag };

/**
 * How much of a crop may lie outside the frame (fraction of its side, per edge). A square around a
 * face that fills the frame (VoxCeleb's 224x224 clips) would be mostly invented edge pixels: it is
 * shifted and, if need be, shrunk until at most this much is, and the report says so.
 */
export const MAX_CROP_BORDER = 0.05;

/** `sq` moved and shrunk so that at most `border` of its side lies beyond any edge of a w x h frame. */
export function fitSquare(
  sq: Square,
  w: number,
  h: number,
  border = MAX_CROP_BORDER,
): { sq: Square; limited: boolean } {
  const side = Math.min(sq.side, Math.min(w, h) / (1 - 2 * border));
  const out = side * border;
  const clamp = (c: number, n: number) => Math.min(n + out - side / 2, Math.max(side / 2 - out, c));
  const fitted = { cx: clamp(sq.cx, w), cy: clamp(sq.cy, h), side };
  const moved = Math.abs(fitted.cx - sq.cx) + Math.abs(fitted.cy - sq.cy) + Math.abs(side - sq.side);
  return { sq: fitted, limited: moved > 1e-6 * sq.side };
}

/**
 * Follows the main face through `frames` (track.ts: detection every few frames, batched landmarks,
 * One Euro smoothing, flags), crops it square around its landmarks (the square smoothed over time
 * when `video`; fitted into the frame, see MAX_CROP_BORDER) and resizes it to `o.resolution`.
 * Photos (`video` false) are independent stills. Memory does not grow with the input's length.
 */
export async function* trackFaces(
  frames: AsyncIterable<Frame>,
  detector: Detector,
  o: Pick<PreprocessOptions, 'minConfidence' | 'crop' | 'resolution'> & { fps?: number | undefined },
  video: boolean,
  stats?: TrackStats,
): AsyncGenerator<TrackedFrame> {
  const smoother = new SquareSmoother();
  const track: Partial<TrackOptions> = video
    ? { minConfidence: o.minConfidence, ...(o.fps ? { fps: o.fps } : {}) }
    : { minConfidence: o.minConfidence, video: false };
  for await (const { frame: fr, face } of trackLandmarks(frames, detector, track, stats)) {
    if (!face || face.flag) {
      yield { index: fr.index, crop: null, landmarks: null, why: face?.flag ?? 'no-face' };
      continue;
    }
    const raw = squareFor(face.landmarks, o.crop);
    const { sq, limited } = fitSquare(video ? smoother.next(raw) : raw, fr.width, fr.height);
    yield {
      index: fr.index,
      crop: cropResize(fr.rgb, fr.width, fr.height, sq, o.resolution),
      landmarks: landmarksInCrop(face.landmarks, sq, o.resolution),
      confidence: face.confidence,
      limited,
    };
  }
}

/** A worker's answer for one unit: its report and the accepted frames. */
export interface UnitResult {
  report: UnitReport;
  frames: Uint8Array[];
  landmarks: Float32Array[];
}

/**
 * Runs the pipeline. With `workers` > 1, units are processed in that many worker threads (each with
 * its own face detector) and written in input order; a unit's frames are then held in memory until
 * it is written (use one worker for very long videos). `onUnit` is called after each unit, `onFrame`
 * after each frame (in-process only: with one worker, or a single unit).
 */
export async function preprocess(
  opts: Partial<PreprocessOptions> &
    Pick<PreprocessOptions, 'input' | 'out'> & { workers?: number; backend?: string },
  onUnit?: (done: number, total: number, r: UnitReport) => void,
  onFrame?: () => void,
): Promise<PreprocessResult> {
  const started = performance.now();
  const o: PreprocessOptions = { ...DEFAULT_PREPROCESS, ...opts };
  const all = findUnits(o.input, o.photosBy);
  if (all.length === 0) throw new Error(`No videos or photos found under "${o.input}"`);
  const heldOut = chooseHeldOut(
    all.map((u) => u.identity),
    o.holdOut,
  );
  const shard = o.shard;
  const units = shard ? all.filter((u) => inShard(u.id, shard)) : all;
  const writer = new DatasetWriter(
    o.out,
    {
      resolution: o.resolution,
      source: `preprocess of ${o.input}${shard ? ` (shard ${shard.index}/${shard.count})` : ''}`,
      landmarkSource: `@vladmandic/face-api 68-point landmark net (SSD MobileNet v1 detector every ${DEFAULT_TRACK.detectEvery} frames, appearance tracking between, One Euro smoothing)`,
      info: {
        fps: o.fps,
        crop: o.crop,
        minConfidence: o.minConfidence,
        photosBy: o.photosBy,
        heldOut,
      },
    },
    o.resume,
  );
  const licences = licenceFiles(o.input);
  for (const f of licences) copyFileSync(f, join(o.out, basename(f)));
  if (licences.length) writer.setInfo({ licence: licences.map((f) => basename(f)) });
  const logPath = join(o.out, 'preprocess_log.json');
  const previous: UnitReport[] =
    o.resume && existsSync(logPath)
      ? (JSON.parse(readFileSync(logPath, 'utf8')) as { units: UnitReport[] }).units
      : [];
  const byId = new Map(previous.map((r) => [r.id, r]));
  const reports: UnitReport[] = [];
  let done = 0;
  const finish = (r: UnitReport) => {
    reports.push(r);
    byId.set(r.id, r);
    writeFileAtomic(
      logPath,
      JSON.stringify({ input: o.input, options: o, units: [...byId.values()] }, null, 1) + '\n',
    );
    done++;
    onUnit?.(done, units.length, r);
  };
  const source = (u: Unit) =>
    u.files.length === 1 ? u.files[0] : relative(o.input, join(u.files[0]!, '..'));
  const todo = units.filter((u) => !writer.has(u.id));
  for (const u of units.filter((x) => writer.has(x.id))) {
    finish({
      ...(byId.get(u.id) ?? {
        id: u.id,
        kind: u.kind,
        files: u.files,
        frames: 0,
        kept: 0,
        noFace: [],
        seconds: 0,
      }),
      status: 'skipped',
      reason: 'already in the dataset (resume)',
    });
  }
  const workers = Math.max(1, Math.min(opts.workers ?? 1, todo.length));
  if (workers <= 1) {
    const detector = await FaceDetector.load();
    for (const u of todo) {
      const v = writer.begin(u.id, u.identity, source(u));
      const r = await processUnit(u, o, detector, {
        addFrame: (rgb, lm) => v.addFrame(rgb, lm),
        frameDone: () => onFrame?.(),
      });
      if (r.status === 'ok') v.end();
      else v.abort();
      finish(r);
    }
  } else {
    await runOrdered<{ unit: Unit; options: PreprocessOptions; backend: string | undefined }, UnitResult>(
      () => startWorker(import.meta.url, 'preprocess_worker'),
      workers,
      todo.map((unit) => ({ unit, options: o, backend: opts.backend })),
      ({ report, frames, landmarks }, i) => {
        const u = todo[i]!;
        if (report.status === 'ok') {
          const v = writer.begin(u.id, u.identity, source(u));
          frames.forEach((f, k) => v.addFrame(f, landmarks[k]!));
          v.end();
        }
        finish(report);
      },
    );
  }
  return {
    reports: units.map((u) => byId.get(u.id)!),
    summary: summarize(reports, (performance.now() - started) / 1000),
    logPath,
  };
}

/**
 * The run's summary. `wallSeconds`: how long the whole run took (with workers, units overlap: the
 * frames/s printed is the run's, not the sum of the units' times); without it, the units' times.
 */
export function summarize(reports: UnitReport[], wallSeconds?: number): string {
  const ok = reports.filter((r) => r.status === 'ok');
  const failed = reports.filter((r) => r.status === 'failed');
  const skipped = reports.filter((r) => r.status === 'skipped');
  const noFace = reports.reduce((s, r) => s + (r.status === 'ok' ? r.noFace.length : 0), 0);
  const done = reports.filter((r) => r.status !== 'skipped');
  const frames = done.reduce((s, r) => s + r.frames, 0);
  const seconds = wallSeconds ?? done.reduce((s, r) => s + r.seconds, 0);
  const lines = [
    `${ok.length} written (${ok.reduce((s, r) => s + r.kept, 0)} frames), ${failed.length} failed, ${skipped.length} skipped (already done)` +
      (frames > 0 && seconds > 0 ? `; ${frames} frames at ${(frames / seconds).toFixed(1)} frames/s` : ''),
  ];
  const list = (xs: number[]) => `${xs.slice(0, 12).join(', ')}${xs.length > 12 ? ', ...' : ''}`;
  if (noFace > 0) {
    lines.push(`${noFace} frame(s) without a face were left out:`);
    for (const r of ok.filter((x) => x.noFace.length))
      lines.push(
        `  ${r.id}: ${r.noFace.length} of ${r.frames} (${r.kind === 'photos' ? 'photos' : 'frames'} ${list(r.noFace)})`,
      );
  }
  const flagged = ok.filter((r) => r.flagged && r.flagged.jump.length + r.flagged.lowConfidence.length > 0);
  if (flagged.length) {
    lines.push('frame(s) whose landmarks were not trusted were left out:');
    for (const r of flagged) {
      const f = r.flagged!;
      const parts = [];
      if (f.jump.length) parts.push(`${f.jump.length} jumped (${list(f.jump)})`);
      if (f.lowConfidence.length)
        parts.push(`${f.lowConfidence.length} low confidence (${list(f.lowConfidence)})`);
      lines.push(`  ${r.id}: ${parts.join('; ')}`);
    }
  }
  for (const r of ok.filter((x) => (x.limited ?? 0) > 0 || (x.padded ?? 0) > 0)) {
    const notes = [];
    if (r.padded)
      notes.push(
        `the face filled the frame or was cut by its edge: found on a padded copy (${r.padded} of ${r.detections} detections)`,
      );
    if (r.limited)
      notes.push(
        `${2 * r.limited > r.kept ? 'close-up (the face fills the frame): ' : 'face at the frame edge: '}the crop was fitted into the frame on ${r.limited} of ${r.kept} frames (at most ${MAX_CROP_BORDER * 100}% border invented)`,
      );
    lines.push(`  ${r.id}: ${notes.join('; ')}`);
  }
  if (failed.length) {
    lines.push('failed:');
    for (const r of failed) lines.push(`  ${r.id}: ${r.reason}`);
  }
  return lines.join('\n');
}
