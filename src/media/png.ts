/**
 * PNG output for sample grids and contact sheets. Images here are HWC uint8 RGB (image.ts); model
 * tensors in [-1, 1] convert with `toRgb8`.
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomic.js';
import { rgbFromRgba, type RgbImage } from './image.js';

export * from './image.js';

export function encodePng(im: RgbImage): Buffer {
  const png = new PNG({
    width: im.width,
    height: im.height,
    colorType: 2,
    inputColorType: 2,
    inputHasAlpha: false,
  });
  png.data = Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

export function writePng(path: string, im: RgbImage): void {
  writeFileAtomic(path, encodePng(im));
}

export function readPng(bytes: Buffer): RgbImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: rgbFromRgba(png.data) };
}
