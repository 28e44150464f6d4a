/**
 * A VoxCeleb-style close-up clip made from a photo (tests and the landmark benchmark, issue 11): the
 * face is found on the whole photo (the wide frame), then each frame crops a square of `fill` x the
 * landmarks' bounding box around it, drifting and zooming slightly as a face-tracking crop does, and
 * resizes it to `size`. The clip's landmarks are the wide frame's, mapped into each crop: what a
 * close-up's landmarks should match.
 */
import { cropResize, landmarksInCrop, type Square } from '../faces/crop.js';
import { detectFaces, type Detector } from '../faces/detect.js';
import { InputError } from '../core/errors.js';
import { landmarkBox } from '../faces/landmarks.js';
import type { Clip } from './clips.js';
import { decodeFrames } from '../media/video.js';

export async function photoCloseUpClip(
  det: Detector,
  photo: string,
  frames: number,
  size = 224,
  fill = 1.25,
): Promise<Clip & { wide: { width: number; height: number } }> {
  let image: { rgb: Uint8Array; width: number; height: number } | null = null;
  for await (const fr of decodeFrames(photo, { maxFrames: 1, maxSize: 1280 })) image = fr;
  const { rgb, width, height } = image!;
  const faces = await detectFaces(det, rgb, width, height, 0.5);
  if (!faces[0]) throw new InputError(`No face found in "${photo}"`);
  const lm = faces[0].landmarks;
  const [x0, y0, x1, y1] = landmarkBox(lm);
  const side = fill * Math.max(x1 - x0, y1 - y0);
  const clip: Clip & { wide: { width: number; height: number } } = {
    width: size,
    height: size,
    fps: 25,
    frames: [],
    landmarks: [],
    wide: { width, height },
  };
  for (let f = 0; f < frames; f++) {
    // ~3% drift and zoom at ~0.4 Hz: a smoothed tracking crop, not a still
    const a = (2 * Math.PI * f) / 60;
    const sq: Square = {
      cx: (x0 + x1) / 2 + 0.03 * side * Math.sin(a),
      cy: (y0 + y1) / 2 + 0.03 * side * Math.cos(1.3 * a),
      side: side * (1 + 0.03 * Math.sin(0.7 * a)),
    };
    clip.frames.push(cropResize(rgb, width, height, sq, size));
    clip.landmarks.push(landmarksInCrop(lm, sq, size));
  }
  return clip;
}
