/**
 * Per-frame motion of a procedural talking head: head pose, speech-like mouth, smiles, blinks,
 * eyebrow raises, gaze and camera jitter. Every quantity is a closed-form function of time whose
 * random events are hashed per time window, so any frame of any sequence is addressable directly
 * (identity, sequence, frame) without simulating the frames before it.
 */
import { hashSeed, Rng } from '../engine/rng.js';

export interface FrameParams {
  /** radians; positive yaw turns the face towards the image's right */
  yaw: number;
  pitch: number;
  roll: number;
  /** camera jitter, in head-height units */
  tx: number;
  ty: number;
  scale: number;
  /** 0 closed .. 1 wide open */
  mouthOpen: number;
  smile: number;
  /** 0 open .. 1 closed */
  blink: number;
  browRaise: number;
  gazeX: number;
  gazeY: number;
}

export const FPS = 25;

interface Wave {
  amp: number;
  freq: number;
  phase: number;
}

function waves(r: Rng, n: number, amp: number, fLo: number, fHi: number): Wave[] {
  return Array.from({ length: n }, () => ({
    amp: amp * (0.4 + 0.6 * r.next()),
    freq: fLo + (fHi - fLo) * r.next(),
    phase: r.next() * 2 * Math.PI,
  }));
}

const sumWaves = (ws: Wave[], t: number) =>
  ws.reduce((s, w) => s + w.amp * Math.sin(2 * Math.PI * w.freq * t + w.phase), 0);
const smooth = (x: number) => (x <= 0 ? 0 : x >= 1 ? 1 : x * x * (3 - 2 * x));

/** A bump 0 -> 1 -> 0 over `width` seconds centred at c. */
function bump(t: number, c: number, width: number): number {
  const x = Math.abs(t - c) / (width / 2);
  return x >= 1 ? 0 : 0.5 * (1 + Math.cos(Math.PI * x));
}

/** Random event per window of `period` seconds: its centre and strength, or null (hashed, O(1)). */
function windowEvent(key: number, k: number, period: number, prob: number): { c: number; s: number } | null {
  if (k < 0) return null;
  const r = new Rng(hashSeed(key, k));
  if (r.next() > prob) return null;
  return { c: (k + 0.15 + 0.7 * r.next()) * period, s: 0.5 + 0.5 * r.next() };
}

function events(key: number, t: number, period: number, prob: number, width: number): number {
  const k = Math.floor(t / period);
  let v = 0;
  for (const j of [k - 1, k, k + 1]) {
    const e = windowEvent(key, j, period, prob);
    if (e) v = Math.max(v, e.s * bump(t, e.c, width));
  }
  return v;
}

export interface Script {
  yaw0: number;
  pitch0: number;
  roll0: number;
  yaw: Wave[];
  pitch: Wave[];
  roll: Wave[];
  jitter: Wave[];
  speechRate: number;
  speechPhase: number;
  talkiness: number;
  smileBase: number;
  key: number;
}

/** The random choices behind one sequence. */
export function sequenceScript(seed: number, identity: number, sequence: number): Script {
  const r = new Rng(hashSeed(seed, identity, sequence, 0x5e9));
  return {
    yaw0: (r.next() - 0.5) * 0.5,
    pitch0: (r.next() - 0.5) * 0.2,
    roll0: (r.next() - 0.5) * 0.12,
    yaw: waves(r, 3, 0.22, 0.05, 0.4),
    pitch: waves(r, 3, 0.08, 0.08, 0.6),
    roll: waves(r, 2, 0.06, 0.05, 0.3),
    jitter: waves(r, 4, 0.012, 0.3, 2.0),
    speechRate: 3 + 2 * r.next(),
    speechPhase: r.next() * 100,
    talkiness: 0.55 + 0.4 * r.next(),
    smileBase: r.next() * 0.3,
    key: hashSeed(seed, identity, sequence, 0xe7),
  };
}

export function frameParams(script: Script, frame: number, fps = FPS): FrameParams {
  const t = frame / fps;
  const s = script;
  // Speech: syllable pulses at ~3-5 Hz, gated by phrases that start and stop (2 s windows).
  const phrase = events(s.key ^ 0x11, t, 2.2, s.talkiness, 2.6);
  const syll = Math.sin(
    2 * Math.PI * s.speechRate * t + s.speechPhase + 0.8 * Math.sin(2 * Math.PI * 0.7 * t),
  );
  const jawNoise = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * t + s.speechPhase * 0.3);
  const mouthOpen = Math.min(1, phrase * Math.pow(Math.max(0, syll), 0.8) * (0.45 + 0.55 * jawNoise));
  const smile = Math.min(1, s.smileBase + 0.8 * events(s.key ^ 0x22, t, 4, 0.35, 2.5));
  // Blinks: ~every 3 s, 0.2 s long.
  const blink = smooth(1.6 * events(s.key ^ 0x33, t, 3.0, 0.85, 0.22));
  const browRaise = events(s.key ^ 0x44, t, 3.5, 0.4, 1.2);
  return {
    // soft limit: profile views beyond ~35 degrees hide half the landmarks
    yaw: 0.6 * Math.tanh((s.yaw0 + sumWaves(s.yaw, t)) / 0.6),
    pitch: s.pitch0 + sumWaves(s.pitch, t) - 0.04 * mouthOpen,
    roll: s.roll0 + sumWaves(s.roll, t),
    tx: sumWaves(s.jitter.slice(0, 2), t),
    ty: sumWaves(s.jitter.slice(2), t),
    scale: 1 + 0.5 * sumWaves(s.jitter.slice(1, 3), t),
    mouthOpen,
    smile,
    blink,
    browRaise,
    gazeX: 0.6 * Math.sin(2 * Math.PI * 0.13 * t + s.speechPhase),
    gazeY: 0.3 * Math.sin(2 * Math.PI * 0.09 * t + 1.7 * s.speechPhase),
  };
}
