/**
 * YUV4MPEG2 (.y4m) writing: raw video that browsers' fake cameras play (Chromium's
 * --use-file-for-fake-video-capture) and ffmpeg reads. 4:2:0, full-range BT.601 ("C420jpeg").
 */

/** The stream header for `width` x `height` frames at `fps` (both sides even: chroma is halved). */
export function y4mHeader(width: number, height: number, fps: number): Uint8Array {
  if (width % 2 || height % 2) throw new RangeError(`y4m: ${width}x${height} must have even sides (4:2:0)`);
  return new TextEncoder().encode(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
}

/** One frame ("FRAME\n" + Y, Cb, Cr planes) from HWC RGB; chroma is the mean of each 2 x 2 block. */
export function y4mFrame(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`y4m: ${rgb.length} bytes for ${width}x${height} RGB`);
  const tag = new TextEncoder().encode('FRAME\n');
  const ys = width * height;
  const cs = ys / 4;
  const out = new Uint8Array(tag.length + ys + 2 * cs);
  out.set(tag);
  const Y = tag.length;
  const U = Y + ys;
  const V = U + cs;
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  for (let i = 0; i < ys; i++)
    out[Y + i] = clamp(0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  const w2 = width / 2;
  for (let y = 0; y < height / 2; y++)
    for (let x = 0; x < w2; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const p = 3 * ((2 * y + dy) * width + 2 * x + dx);
        r += rgb[p]!;
        g += rgb[p + 1]!;
        b += rgb[p + 2]!;
      }
      r /= 4;
      g /= 4;
      b /= 4;
      out[U + y * w2 + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      out[V + y * w2 + x] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  return out;
}

/** A whole .y4m file. */
export function encodeY4m(frames: Uint8Array[], width: number, height: number, fps: number): Uint8Array {
  const parts = [y4mHeader(width, height, fps), ...frames.map((f) => y4mFrame(f, width, height))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
