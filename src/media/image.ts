/**
 * RGB images in memory (HWC uint8) and the small operations on them that sheets, strips and the
 * browser app share: no I/O here (png.ts encodes and writes them).
 */
export interface RgbImage {
  width: number;
  height: number;
  /** HWC, 3 bytes per pixel */
  data: Uint8Array;
}

/** RGBA pixels (a canvas's, a decoded PNG's) -> RGB, alpha dropped. */
export function rgbFromRgba(rgba: ArrayLike<number>): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!;
    rgb[j + 1] = rgba[i + 1]!;
    rgb[j + 2] = rgba[i + 2]!;
  }
  return rgb;
}

/** [-1, 1] floats (HWC, 3 channels) -> uint8 RGB, clamped. */
export function toRgb8(values: ArrayLike<number>, width: number, height: number): RgbImage {
  if (values.length !== width * height * 3) {
    throw new RangeError(`toRgb8: ${values.length} values for a ${width}x${height}x3 image`);
  }
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    data[i] = Math.max(0, Math.min(255, Math.round((values[i]! + 1) * 127.5)));
  }
  return { width, height, data };
}

/** Each pixel repeated k x k times (nearest neighbour): small model outputs made viewable. */
export function upscale(im: RgbImage, k: number): RgbImage {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`upscale: factor ${k} must be a positive integer`);
  if (k === 1) return im;
  const w = im.width * k;
  const data = new Uint8Array(w * im.height * k * 3);
  for (let y = 0; y < im.height; y++) {
    const row = new Uint8Array(w * 3);
    for (let x = 0; x < im.width; x++) {
      const src = (y * im.width + x) * 3;
      for (let j = 0; j < k; j++) row.set(im.data.subarray(src, src + 3), (x * k + j) * 3);
    }
    for (let j = 0; j < k; j++) data.set(row, (y * k + j) * w * 3);
  }
  return { width: w, height: im.height * k, data };
}

/** Tiles equally sized images into rows x cols with a gap of `pad` pixels of `background`. */
export function grid(images: RgbImage[], cols: number, pad = 2, background = 255): RgbImage {
  if (images.length === 0) throw new RangeError('grid: no images');
  const { width: w, height: h } = images[0]!;
  const rows = Math.ceil(images.length / cols);
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const data = new Uint8Array(width * height * 3).fill(background);
  const out = { width, height, data };
  images.forEach((im, i) => {
    if (im.width !== w || im.height !== h) throw new RangeError('grid: images differ in size');
    paste(out, im, pad + (i % cols) * (w + pad), pad + Math.floor(i / cols) * (h + pad));
  });
  return out;
}

/** Copies `src` into `dst` with its top-left corner at (x, y); it must fit inside. */
export function paste(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  if (x < 0 || y < 0 || x + src.width > dst.width || y + src.height > dst.height)
    throw new RangeError(
      `paste: a ${src.width}x${src.height} image at (${x}, ${y}) does not fit in ${dst.width}x${dst.height}`,
    );
  const row = src.width * 3;
  for (let r = 0; r < src.height; r++)
    dst.data.set(src.data.subarray(r * row, (r + 1) * row), ((y + r) * dst.width + x) * 3);
}

/** The w x h region of `src` with its top-left corner at (x, y) (paste's inverse); it must lie inside. */
export function cut(src: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  if (x < 0 || y < 0 || x + w > src.width || y + h > src.height)
    throw new RangeError(`cut: ${w}x${h} at (${x}, ${y}) is not inside ${src.width}x${src.height}`);
  const data = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++)
    data.set(src.data.subarray(((y + r) * src.width + x) * 3, ((y + r) * src.width + x + w) * 3), r * w * 3);
  return { width: w, height: h, data };
}
