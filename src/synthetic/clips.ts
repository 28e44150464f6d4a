/**
 * Test and benchmark clips for the face tracker (issue 11), made from the procedural heads: the same
 * talking head as a VoxCeleb-style close-up (a 224 x 224 face-centred crop where the face fills the
 * frame) and as a wide shot (the head small in a 640 x 360 frame). Both come with the renderer's
 * landmarks in their own pixel coordinates.
 */
import { cropResize, landmarksInCrop, type Square } from '../faces/crop.js';
import { landmarkBox } from '../faces/landmarks.js';
import { FPS } from './motion.js';
import { HeadRenderer } from './render.js';

export interface Clip {
  width: number;
  height: number;
  fps: number;
  frames: Uint8Array[];
  /** the generator's landmarks per frame, in clip pixels */
  landmarks: Float32Array[];
}

/**
 * A close-up: each rendered frame cropped to a square of `fill` x the landmarks' bounding box around
 * the first frame's face (fixed, as VoxCeleb crops a clip), resized to `size`.
 */
export function closeUpClip(seed: number, identity: number, frames: number, size = 224, fill = 1.25): Clip {
  const r = new HeadRenderer(seed, identity);
  const src = 2 * size;
  const out: Clip = { width: size, height: size, fps: FPS, frames: [], landmarks: [] };
  let sq: Square | null = null;
  for (let f = 0; f < frames; f++) {
    const fr = r.render(0, f, src);
    if (!sq) {
      const [x0, y0, x1, y1] = landmarkBox(fr.landmarks);
      sq = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, side: fill * Math.max(x1 - x0, y1 - y0) };
    }
    out.frames.push(cropResize(fr.image, src, src, sq, size));
    out.landmarks.push(landmarksInCrop(fr.landmarks, sq, size));
  }
  return out;
}

/** A wide shot: the head rendered at `head` pixels, placed off-centre in a grey width x height frame. */
export function wideClip(
  seed: number,
  identity: number,
  frames: number,
  width = 640,
  height = 360,
  head = 200,
): Clip {
  const r = new HeadRenderer(seed, identity);
  const out: Clip = { width, height, fps: FPS, frames: [], landmarks: [] };
  const ox = Math.round(width * 0.55 - head / 2);
  const oy = Math.round((height - head) / 2);
  for (let f = 0; f < frames; f++) {
    const fr = r.render(0, f, head);
    const img = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        const g = 70 + Math.round((60 * y) / height);
        img[o] = g;
        img[o + 1] = g + 6;
        img[o + 2] = g + 12;
      }
    for (let y = 0; y < head; y++)
      img.set(fr.image.subarray(y * head * 3, (y + 1) * head * 3), ((oy + y) * width + ox) * 3);
    out.frames.push(img);
    out.landmarks.push(fr.landmarks.map((v, i) => v + (i % 2 === 0 ? ox : oy)));
  }
  return out;
}
