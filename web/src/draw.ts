/** Drawing on the page: RGB images and landmark polylines on canvases, figures with captions. */
import { FACE_PARTS } from '../../src/faces/landmarks.js';

function rgbToImageData(rgb: Uint8Array, w: number, h: number): ImageData {
  const d = new ImageData(w, h);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    d.data[j] = rgb[i]!;
    d.data[j + 1] = rgb[i + 1]!;
    d.data[j + 2] = rgb[i + 2]!;
    d.data[j + 3] = 255;
  }
  return d;
}

const scratch = document.createElement('canvas');
/** Draws an RGB image scaled to fill `canvas` (smoothly: the model's 64px output shown at 256). */
export function drawRgb(canvas: HTMLCanvasElement, rgb: Uint8Array, w: number, h: number): void {
  scratch.width = w;
  scratch.height = h;
  scratch.getContext('2d')!.putImageData(rgbToImageData(rgb, w, h), 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

/**
 * The visible "SYNTHETIC" mark in the canvas's bottom-right corner, so that a recording of the
 * canvas says what it is (src/media/provenance.ts draws the same mark on files).
 */
export function drawMark(canvas: HTMLCanvasElement): void {
  const ctx = canvas.getContext('2d')!;
  const h = Math.max(10, Math.round(canvas.height / 18));
  ctx.font = `bold ${h - 2}px monospace`;
  const w = ctx.measureText('SYNTHETIC').width + 6;
  ctx.fillStyle = 'rgba(0, 0, 0, 0.5)';
  ctx.fillRect(canvas.width - w, canvas.height - h, w, h);
  ctx.fillStyle = '#fff';
  ctx.textBaseline = 'bottom';
  ctx.fillText('SYNTHETIC', canvas.width - w + 3, canvas.height - 1);
}

export function drawLandmarks(canvas: HTMLCanvasElement, lm: Float32Array, size: number): void {
  const ctx = canvas.getContext('2d')!;
  const k = canvas.width / size;
  ctx.lineWidth = 1.5;
  for (const part of FACE_PARTS) {
    ctx.strokeStyle = `rgb(${part.color.join(',')})`;
    ctx.beginPath();
    for (let i = part.from; i <= part.to; i++) {
      const x = lm[2 * i]! * k;
      const y = lm[2 * i + 1]! * k;
      if (i === part.from) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    if (part.closed) ctx.closePath();
    ctx.stroke();
  }
}

/** An image as a captioned figure (192 px). */
export function tile(rgb: Uint8Array, size: number, caption: string, cls = ''): HTMLElement {
  const fig = document.createElement('figure');
  const c = document.createElement('canvas');
  c.width = 192;
  c.height = 192;
  if (cls) c.className = cls;
  drawRgb(c, rgb, size, size);
  fig.append(c);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(cap);
  return fig;
}

export function li(text: string): HTMLLIElement {
  const e = document.createElement('li');
  e.textContent = text;
  return e;
}
