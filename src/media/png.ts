/**
 * PNG output for sample grids and contact sheets. Images here are HWC uint8 RGB (image.ts); model
 * tensors in [-1, 1] convert with `toRgb8`.
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomic.js';
import { rgbFromRgba, type RgbImage } from './image.js';
import { pngWithText, SOFTWARE } from './provenance.js';

export * from './image.js';

/**
 * `tag`: the image is generated, and says so in a tEXt chunk (provenance.ts syntheticTag): every
 * picture with a generator's output in it passes one.
 */
export function encodePng(im: RgbImage, tag?: string): Buffer {
  const png = new PNG({
    width: im.width,
    height: im.height,
    colorType: 2,
    inputColorType: 2,
    inputHasAlpha: false,
  });
  png.data = Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength);
  const bytes = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  return tag ? pngWithText(bytes, { Software: SOFTWARE, Comment: tag }) : bytes;
}

export function writePng(path: string, im: RgbImage, tag?: string): void {
  writeFileAtomic(path, encodePng(im, tag));
}

export function readPng(bytes: Buffer): RgbImage {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, data: rgbFromRgba(png.data) };
}
