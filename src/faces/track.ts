/**
 * Following one face through a video at video speed (issue 11). Every landmark this project takes
 * from real media comes through here: preprocessing, `animate --driver VIDEO`, `fine-tune --video`
 * and photos (a photo is a one-frame video, each detected on its own).
 *
 * - The detector (SSD: 70% of face-api's time per frame) runs on the first frame, then every
 *   `detectEvery` frames (and at least every `detectInterval` seconds), or sooner when the track's
 *   confidence drops or landmarks jump. It looks at the frame as it is, then at padded copies (faces
 *   that fill the frame or are cut by its edge); a video remembers the padding that worked.
 * - Between detections the box is followed by appearance (box_track.ts: the detector's view of the
 *   face as a template, matched in each frame), never by the frame's own landmarks, which drift.
 * - The landmark net then runs on `batch` frames at once in their boxes.
 * - Confidence = the last detection's score x the template's match in this frame (1 on a detection
 *   frame). A match below `redetectBelow` has the next frame detected again.
 * - Frames whose shape jumps from the last good frame (`jump`), or whose match falls below
 *   `minMatch` (the crop no longer looks like the face the detector confirmed), are flagged: never
 *   silently kept, and followed by a detection.
 * - Landmarks are smoothed with a One Euro filter (smooth.ts), which does not lag a speaking mouth.
 */
import { align, applySimilarity, landmarkBox } from './landmarks.js';
import {
  chooseMainFace,
  iou,
  DETECT_PADS,
  landmarkInput,
  landmarksFromCrop,
  landmarkSquare,
  locateFaces,
  type Box,
  type Detector,
} from './detect.js';
import { faceTemplate, searchBox } from './box_track.js';
import { DEFAULT_ONE_EURO, OneEuroFilter, type OneEuroParams } from './smooth.js';
import type { Frame } from '../media/video.js';

export interface TrackOptions {
  /** the detector's threshold */
  minConfidence: number;
  /** at most this many frames between detections while a face is tracked (1: detect every frame) */
  detectEvery: number;
  /** ...and at most this many seconds (sparsely sampled frames are each detected) */
  detectInterval: number;
  /** frames per landmark-net batch */
  batch: number;
  /** detect again when the template's match falls below this */
  redetectBelow: number;
  /** flag a frame whose template match falls below this */
  minMatch: number;
  /** frame rate of the frames given (the smoothing's time base) */
  fps: number;
  /** One Euro parameters, or null for raw landmarks */
  smoothing: OneEuroParams | null;
  /** flag a frame whose shape differs from the last good frame's by more than this (shapeDistance) */
  jump: number;
  /** false: the frames are unrelated stills (photos): each is detected on its own, nothing carried */
  video: boolean;
}

export const DEFAULT_TRACK: TrackOptions = {
  minConfidence: 0.5,
  detectEvery: 16,
  detectInterval: 0.64,
  redetectBelow: 0.8,
  minMatch: 0.6,
  batch: 8,
  fps: 25,
  smoothing: DEFAULT_ONE_EURO,
  jump: 0.1,
  video: true,
};

/** Detect-every-frame, no smoothing: the reference the tracker is measured against. */
export const DETECT_EVERY_FRAME: Partial<TrackOptions> = { detectEvery: 1, smoothing: null };

export type FrameFlag = 'jump' | 'low-confidence';

export interface TrackedFace {
  /** 68 (x, y) pairs in frame pixels, smoothed (raw on flagged frames) */
  landmarks: Float32Array;
  /** as the landmark net gave them */
  raw: Float32Array;
  /** the face box (detector convention) the landmarks were taken in */
  box: Box;
  /** last detection score x the template's match, 0..1 */
  confidence: number;
  /** the detector ran on this frame */
  detected: boolean;
  flag: FrameFlag | null;
}

export interface FaceFrame {
  frame: Frame;
  face: TrackedFace | null;
}

export interface TrackStats {
  frames: number;
  /** detector runs (each may try several paddings) */
  detections: number;
  /** detections that found the face only on a padded copy */
  padded: number;
  flagged: { jump: number[]; lowConfidence: number[] };
  /** frames without a face */
  noFace: number[];
}

/** Face size: the longer side of the landmarks' bounding box. */
export function faceSize(lm: ArrayLike<number>): number {
  const [x0, y0, x1, y1] = landmarkBox(lm);
  return Math.max(x1 - x0, y1 - y0, 1e-6);
}

/** Mean distance between corresponding points of two landmark sets. */
export function meanPointDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i += 2) s += Math.hypot(a[i]! - b[i]!, a[i + 1]! - b[i + 1]!);
  return s / (a.length / 2);
}

/**
 * How different two landmark sets are as shapes: b is aligned to a by the least-squares similarity
 * transform (translation, rotation, scale: head motion), then the mean point distance is taken, in
 * units of a's face size. Speech and blinks move it by a few hundredths; a landmark failure by more.
 */
export function shapeDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return meanPointDistance(applySimilarity(align(b, a), b), a) / faceSize(a);
}

interface Track {
  box: Box;
  score: number;
  /** the face as the detector last boxed it (box_track.ts) */
  template: Float32Array;
  /** frames since the last detection */
  since: number;
  /** detections in a row that did not find the tracked face */
  misses: number;
  redetect: boolean;
}

/** A frame waiting for its batch: its face box, or none (`track` null). */
interface Pending {
  frame: Frame;
  track: Track | null;
  box: Box;
  detected: boolean;
  /** the template's match (1 on a detection frame) */
  match: number;
  /** detection score x match, as of this frame */
  confidence: number;
  /** the first frame of a new track: smoothing and the jump reference start over */
  fresh: boolean;
}

/**
 * Tracks the main face (the largest at the start; later the one overlapping the track) through
 * `frames`, one result per frame, in order. `stats` is filled in as it goes. Results come in
 * batches of `batch` frames (the landmark net always sees a full batch but at the very end: each new
 * batch size costs the backend a one-time setup of ~150 ms).
 */
export async function* trackLandmarks(
  frames: AsyncIterable<Frame>,
  det: Detector,
  options: Partial<TrackOptions> = {},
  stats?: TrackStats,
): AsyncGenerator<FaceFrame> {
  const o: TrackOptions = { ...DEFAULT_TRACK, ...options };
  const st: TrackStats = stats ?? newTrackStats();
  const detectEvery = Math.max(1, Math.min(o.detectEvery, Math.round(o.detectInterval * o.fps)));
  const smoother = o.smoothing && o.video ? new OneEuroFilter(o.smoothing) : null;
  let pads: number[] = [...DETECT_PADS];
  let track = null as Track | null;
  let pending: Pending[] = [];
  let searched = 0;
  /** the last unflagged raw landmarks of the track being emitted (jump reference) */
  let last: Float32Array | null = null;

  async function* flush(): AsyncGenerator<FaceFrame> {
    const batch = pending;
    pending = [];
    const work = batch.filter((p) => p.track);
    const lms = work.length
      ? await det.landmarks(
          work.map((p) => landmarkInput(p.frame.rgb, p.frame.width, p.frame.height, landmarkSquare(p.box))),
        )
      : [];
    let k = 0;
    for (const p of batch) {
      if (!p.track || p.fresh) {
        smoother?.reset();
        last = null;
      }
      if (!p.track) {
        yield { frame: p.frame, face: null };
        continue;
      }
      const raw = landmarksFromCrop(lms[k++]!, landmarkSquare(p.box));
      const { confidence } = p;
      const jumped = last !== null && shapeDistance(last, raw) > o.jump;
      const flag: FrameFlag | null = jumped ? 'jump' : p.match < o.minMatch ? 'low-confidence' : null;
      let landmarks = raw;
      if (flag) {
        if (p.track === track) track.redetect = true;
        (flag === 'jump' ? st.flagged.jump : st.flagged.lowConfidence).push(p.frame.index);
      } else {
        last = raw;
        if (smoother) landmarks = smoother.filter(raw, p.frame.index / o.fps, faceSize(raw));
      }
      yield { frame: p.frame, face: { landmarks, raw, box: p.box, confidence, detected: p.detected, flag } };
    }
  }

  for await (const fr of frames) {
    st.frames++;
    if (!o.video) track = null;
    const { rgb, width: w, height: h } = fr;
    if (!track || track.since + 1 >= detectEvery || track.redetect) {
      // Searching without a track: every padding on the first frame and every `batch` frames after
      // it, the one that last worked in between (a faceless stretch costs ~one detection a frame).
      const tryPads = track || searched % o.batch === 0 ? pads : [pads[0]!];
      const { faces, pad } = await locateFaces(det, rgb, w, h, o.minConfidence, tryPads);
      st.detections++;
      searched = faces.length ? 0 : searched + 1;
      const tracked: Track | null = track;
      const face = chooseMainFace(faces, tracked ? tracked.box : null);
      if (face) {
        if (pad > 1) st.padded++;
        pads = [pad, ...pads.filter((q) => q !== pad)];
        const continues = tracked !== null && iou(face.box, tracked.box) > 0.1;
        track = {
          box: face.box,
          score: face.score,
          template: faceTemplate(rgb, w, h, face.box),
          since: 0,
          misses: 0,
          redetect: false,
        };
        pending.push({
          frame: fr,
          track,
          box: face.box,
          detected: true,
          match: 1,
          confidence: face.score,
          fresh: !continues || !o.video,
        });
      } else if (tracked && tracked.misses === 0) {
        // One miss is tolerated (the detector blinks on profiles and motion blur): keep following
        // the template at half the score and look again one batch later; a second miss ends it.
        tracked.misses++;
        tracked.score *= 0.5;
        tracked.since = Math.max(0, detectEvery - o.batch);
        tracked.redetect = false;
        follow(tracked, fr);
      } else {
        track = null;
        st.noFace.push(fr.index);
        pending.push({
          frame: fr,
          track: null,
          box: { x: 0, y: 0, width: 0, height: 0 },
          detected: false,
          match: 0,
          confidence: 0,
          fresh: true,
        });
      }
    } else {
      track.since++;
      follow(track, fr);
    }
    if (pending.length >= o.batch || !o.video) yield* flush();
  }
  yield* flush();

  function follow(tr: Track, fr: Frame) {
    const { box, score } = searchBox(fr.rgb, fr.width, fr.height, tr.template, tr.box);
    tr.box = box;
    if (score < o.redetectBelow) tr.redetect = true;
    const match = Math.max(0, score);
    pending.push({
      frame: fr,
      track: tr,
      box,
      detected: false,
      match,
      confidence: tr.score * match,
      fresh: false,
    });
  }
}

export function newTrackStats(): TrackStats {
  return { frames: 0, detections: 0, padded: 0, flagged: { jump: [], lowConfidence: [] }, noFace: [] };
}
