/**
 * Animation (paper sec. 3.3, "puppeteering"; docs/design.md sec. 1): a personalised generator G' driven
 * by a sequence of landmarks. psi' is fixed per model, so each frame costs one generator pass and
 * nothing else; frames are made in small batches and streamed to the output, so memory stays flat
 * however long the driver is.
 */
import { paste, toRgb8, upscale, type RgbImage } from '../media/image.js';
import { toUnit } from '../core/units.js';
import { InputError } from '../core/errors.js';
import { LANDMARK_VALUES, landmarkSet, rasterizeLandmarks, stackLandmarks } from '../faces/landmarks.js';
import { withInferencePrecision } from '../engine/precision.js';
import { tf } from '../engine/tf.js';
import { generator } from '../models/networks.js';
import type { PersonalModel } from '../models/personal.js';
import { sourceWarps, type SourceFrames } from '../data/source_warp.js';
import type { Driver, DriverFrame } from './drivers.js';
import type { FrameWriter } from './output.js';
import { neutralShape, Retargeter } from '../faces/retarget.js';

export interface AnimateOptions {
  /** map the driver's motion onto the model's face (default: on for a foreign driver) */
  retarget?: boolean | undefined;
  /** driver frame | landmark image | output in one row */
  sideBySide?: boolean;
  /** frames per generator call (default: `defaultChunk`) */
  chunk?: number;
  /** integer upscaling of the written frames (nearest neighbour), for small models */
  scale?: number;
  /** driver frames whose neutral shape is averaged (they are held back until then) */
  neutralFrames?: number;
  onFrame?: (done: number) => void;
}

export interface AnimateReport {
  frames: number;
  /** driver frames without a face (the last pose held) */
  noFace: number;
  /** leading driver frames without a face (nothing to hold yet: left out) */
  skipped: number;
  retargeted: boolean;
  seconds: number;
  /** generator frames per second (network time only) */
  generatorFps: number;
}

/**
 * Frames per generator call: about 256k pixels (4 at 256px, 16 at 128px and below). Measured on the
 * 2-core machine: at 256px 4 frames a call give 3.6 frames/s and 8 give 1.4 (the activations of 8
 * frames, ~7 GB with the 64x64 attention maps, no longer stay in cache); at 64px larger calls win.
 */
export function defaultChunk(resolution: number): number {
  return Math.min(16, Math.max(1, Math.floor(262144 / (resolution * resolution))));
}

/** Whether the driver is another person than the one the model was made from. */
export function isForeign(model: PersonalModel, driver: Driver): boolean {
  return !(driver.identity && model.info.identity && driver.identity === model.info.identity);
}

/**
 * Retargeting is on by default for a foreign driver with motion. A still (one photo) has no motion
 * to separate from its face shape: its own frame would be its neutral shape, and the output the
 * target's neutral face, so a still drives with its landmarks as they are.
 */
export function retargetByDefault(model: PersonalModel, driver: Driver): boolean {
  return driver.kind !== 'photo' && isForeign(model, driver);
}

/** The frames a personalised model with a source warp was made from, as what the warp draws from. */
function modelSources(model: PersonalModel): SourceFrames {
  if (!model.sources) throw new RangeError('This personalised model warps its given frames but carries none');
  return { rgb: model.sources, landmarks: model.landmarks, count: model.frames, size: model.net.resolution };
}

/**
 * What G' takes for landmark sets, as [-1, 1] values: their landmark images and, with a source
 * warp, each frame's nearest given frame moved onto its landmarks ([B, R, R, 3] each).
 */
export function generatorInputs(
  model: PersonalModel,
  landmarks: Float32Array[],
): { y: Float32Array; warps: Float32Array | null; shape: [number, number, number, number] } {
  const r = model.net.resolution;
  const fb = r * r * 3;
  const y = new Float32Array(landmarks.length * fb);
  const img = new Uint8Array(fb);
  landmarks.forEach((lm, i) => {
    rasterizeLandmarks(lm, r, img);
    toUnit(img, y, i * fb);
  });
  const warps = model.net.sourceWarp ? sourceWarps(modelSources(model), landmarks) : null;
  return { y, warps, shape: [landmarks.length, r, r, 3] };
}

/** How frames are rendered: `float32` keeps bf16 off (evaluation: scores comparable across CPUs). */
export interface RenderOptions {
  float32?: boolean;
}

/**
 * Renders landmark sets through G' as RGB images ([chunk] -> [chunk] images); with a source warp,
 * each frame's nearest given frame moved onto its landmarks goes in beside them. In bf16 where the
 * CPU has it (engine/precision.ts) unless `o.float32`.
 */
export function renderFrames(
  model: PersonalModel,
  landmarks: Float32Array[],
  o: RenderOptions = {},
): RgbImage[] {
  const { y, warps, shape } = generatorInputs(model, landmarks);
  const r = model.net.resolution;
  const fb = r * r * 3;
  const pass = () =>
    tf.tidy(() => {
      const yt = tf.tensor4d(y, shape);
      const psi = tf.tile(model.psi, [landmarks.length, 1]) as tf.Tensor2D;
      const wt = warps ? tf.tensor4d(warps, shape) : undefined;
      return generator(model.G, model.net, yt, psi, { inference: true }, wt);
    });
  // bf16 convolutions where the CPU has them (engine/precision.ts)
  const out = o.float32 ? pass() : withInferencePrecision(pass);
  const data = out.dataSync();
  out.dispose();
  return landmarks.map((_, i) => toRgb8(data.subarray(i * fb, (i + 1) * fb), r, r));
}

/** Renders a track of landmark sets (n x 136) through G', `chunk` frames per generator call. */
export function renderTrack(
  model: PersonalModel,
  landmarks: Float32Array,
  chunk = defaultChunk(model.net.resolution),
  o: RenderOptions = {},
): RgbImage[] {
  const n = landmarks.length / LANDMARK_VALUES;
  const out: RgbImage[] = [];
  for (let i = 0; i < n; i += chunk)
    out.push(
      ...renderFrames(
        model,
        Array.from({ length: Math.min(chunk, n - i) }, (_, j) => landmarkSet(landmarks, i + j)),
        o,
      ),
    );
  return out;
}

function sideBySide(parts: RgbImage[]): RgbImage {
  const width = parts.reduce((s, p) => s + p.width, 0);
  const height = parts[0]!.height;
  const out: RgbImage = { width, height, data: new Uint8Array(width * height * 3) };
  let x0 = 0;
  for (const p of parts) {
    paste(out, p, x0, 0);
    x0 += p.width;
  }
  return out;
}

export async function animate(
  model: PersonalModel,
  driver: Driver,
  out: FrameWriter,
  o: AnimateOptions = {},
): Promise<AnimateReport> {
  const r = model.net.resolution;
  const chunk = o.chunk ?? defaultChunk(r);
  const retarget = o.retarget ?? retargetByDefault(model, driver);
  const targetNeutral = neutralShape(model.landmarks, model.frames);
  const t0 = performance.now();
  let genSeconds = 0;
  const report: AnimateReport = {
    frames: 0,
    noFace: 0,
    skipped: 0,
    retargeted: retarget,
    seconds: 0,
    generatorFps: 0,
  };
  let retargeter: Retargeter | null = null;
  const held: DriverFrame[] = []; // the first frames, until the driver's neutral shape is known
  const pending: { lm: Float32Array; image: Uint8Array | null }[] = [];
  let last: Float32Array | null = null;
  const blank = new Uint8Array(r * r * 3);

  const flush = async () => {
    if (pending.length === 0) return;
    const lms = pending.map((p) => (retargeter ? retargeter.map(p.lm) : p.lm));
    const ts = performance.now();
    const images = renderFrames(model, lms);
    genSeconds += (performance.now() - ts) / 1000;
    for (let i = 0; i < images.length; i++) {
      const frame = o.sideBySide
        ? sideBySide([
            { width: r, height: r, data: pending[i]!.image ?? blank },
            { width: r, height: r, data: rasterizeLandmarks(lms[i]!, r) },
            images[i]!,
          ])
        : images[i]!;
      await out.write(upscale(frame, o.scale ?? 1));
      report.frames++;
      o.onFrame?.(report.frames);
    }
    pending.length = 0;
  };
  const push = async (f: DriverFrame) => {
    let lm = f.landmarks;
    if (!lm) {
      if (!last) {
        report.skipped++;
        return;
      }
      report.noFace++;
      lm = last;
    }
    last = lm;
    pending.push({ lm, image: f.image });
    if (pending.length >= chunk) await flush();
  };
  const startRetarget = () => {
    const withFace = held.filter((f) => f.landmarks);
    if (withFace.length === 0) return;
    const all = stackLandmarks(withFace.map((f) => f.landmarks!));
    retargeter = new Retargeter(targetNeutral, neutralShape(all, withFace.length));
  };

  const neutralN = o.neutralFrames ?? 25;
  for await (const f of driver.frames) {
    if (retarget && !retargeter) {
      held.push(f);
      // the neutral shape from the first neutralN frames with a face (or fewer, when faces are rare:
      // what is held back stays bounded)
      const faces = held.filter((h) => h.landmarks).length;
      if (faces < neutralN && !(faces > 0 && held.length >= 4 * neutralN)) continue;
      startRetarget();
      for (const h of held.splice(0)) await push(h);
      continue;
    }
    await push(f);
  }
  if (held.length) {
    startRetarget();
    for (const h of held.splice(0)) await push(h);
  }
  await flush();
  if (report.frames === 0)
    throw new InputError(
      `Driver "${driver.source}" has no frame with a face (${report.skipped} frame(s) read). Use a driver where a face is visible.`,
    );
  report.seconds = (performance.now() - t0) / 1000;
  report.generatorFps = report.frames / Math.max(genSeconds, 1e-9);
  return report;
}
