/**
 * Contact sheets of a dataset: for each of the first videos, a few frames with their landmark image
 * drawn over them, next to the landmark image alone, so a person can see at a glance whether the
 * landmarks sit on the faces.
 */
import type { Dataset } from './dataset.js';
import { rasterizeLandmarks } from '../faces/landmarks.js';
import { grid, type RgbImage } from '../media/png.js';

/**
 * The frame with its landmark image drawn on top. A landmark pixel is colour x coverage, so with
 * a = coverage (its brightest channel / 255) the blend is frame * (1 - a) + landmark pixel.
 */
export function overlay(frame: Uint8Array, lmImage: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame);
  for (let i = 0; i < out.length; i += 3) {
    const a = Math.max(lmImage[i]!, lmImage[i + 1]!, lmImage[i + 2]!) / 255;
    if (a === 0) continue;
    for (let c = 0; c < 3; c++)
      out[i + c] = Math.min(255, Math.round(out[i + c]! * (1 - a) + lmImage[i + c]!));
  }
  return out;
}

export function contactSheet(ds: Dataset, videos = 8, framesPerVideo = 3): RgbImage {
  const res = ds.resolution;
  const tiles: RgbImage[] = [];
  const n = Math.min(videos, ds.numVideos);
  if (n === 0) throw new RangeError(`Dataset "${ds.dir}" has no videos to show`);
  for (let v = 0; v < n; v++) {
    const count = ds.video(v).frames;
    for (let k = 0; k < framesPerVideo; k++) {
      const f = Math.min(count - 1, Math.round((k * (count - 1)) / Math.max(1, framesPerVideo - 1)));
      const frame = ds.readFrames(v, f);
      const lm = rasterizeLandmarks(ds.frameLandmarks(v, f), res);
      tiles.push(
        { width: res, height: res, data: overlay(frame, lm) },
        { width: res, height: res, data: lm },
      );
    }
  }
  return grid(tiles, framesPerVideo * 2);
}
