/**
 * Puppeteering ranking (paper sec. 4): which driving videos keep a person's identity best. Each
 * driver animates the personal model (retargeted as `animate` does for another person), and its
 * frames are scored by CSIM-faceapi against the person as the model holds them: the mean face
 * descriptor of the model's renderings of its own T frames' landmarks (the file has no photos).
 */
import { animate, renderFrames } from '../animate/animate.js';
import { openDriver } from '../animate/drivers.js';
import type { RgbImage } from '../media/png.js';
import type { PersonalModel } from '../models/personal.js';
import { cosineSimilarity } from './frechet.js';
import { faceDescriptors } from './identity.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';

export interface DriverRank {
  driver: string;
  /** mean CSIM-faceapi of the driven frames to the person */
  csim: number;
  /** the lowest frame's */
  worst: number;
  frames: number;
  retargeted: boolean;
}

/** Scores each driver (at most `maxFrames` frames each, evenly spread) and returns them best first. */
export async function rankDrivers(
  model: PersonalModel,
  drivers: string[],
  o: { maxFrames?: number; retarget?: boolean; onDriver?: (i: number, r: DriverRank) => void } = {},
): Promise<DriverRank[]> {
  const own = Array.from({ length: model.frames }, (_, t) =>
    model.landmarks.slice(t * LANDMARK_VALUES, (t + 1) * LANDMARK_VALUES),
  );
  const ref = faceDescriptors(renderFrames(model, own));
  const proto = new Float32Array(128);
  for (const d of ref) d.forEach((v, i) => (proto[i]! += v / ref.length));
  const out: DriverRank[] = [];
  for (const [i, path] of drivers.entries()) {
    const driver = openDriver(path, { resolution: model.net.resolution });
    const frames: RgbImage[] = [];
    const report = await animate(
      model,
      driver,
      { write: async (f) => void frames.push(f), close: async () => {}, abort: () => {} },
      o.retarget === undefined ? {} : { retarget: o.retarget },
    );
    const max = o.maxFrames ?? 64;
    const picked =
      frames.length <= max
        ? frames
        : Array.from({ length: max }, (_, k) => frames[Math.floor(((k + 0.5) * frames.length) / max)]!);
    const sims = faceDescriptors(picked).map((d) => cosineSimilarity(d, proto));
    const r: DriverRank = {
      driver: path,
      csim: sims.reduce((s, v) => s + v, 0) / Math.max(1, sims.length),
      worst: Math.min(...sims),
      frames: picked.length,
      retargeted: report.retargeted,
    };
    out.push(r);
    o.onDriver?.(i, r);
  }
  return out.sort((a, b) => b.csim - a.csim);
}

export function rankTable(ranks: DriverRank[]): string {
  const lines = ['rank  CSIM-faceapi  worst frame  frames  driver'];
  ranks.forEach((r, i) =>
    lines.push(
      `${String(i + 1).padStart(4)}  ${r.csim.toFixed(4).padStart(12)}  ${r.worst.toFixed(4).padStart(11)}  ${String(r.frames).padStart(6)}  ${r.driver}${r.retargeted ? '' : ' (not retargeted)'}`,
    ),
  );
  lines.push(
    "CSIM-faceapi: cosine of face-api's descriptors of the driven frames to the person (the mean over the model's renderings of its own frames); higher keeps the identity better.",
  );
  return lines.join('\n');
}
