/** Pixels from files and the camera, sized for the worker. */
import type { Pixels } from './protocol.js';

/** largest side of a photo handed to the detector (as the CLI decodes photos) */
export const PHOTO_MAX = 1280;
/** largest side of a camera frame handed to the tracker */
export const CAMERA_MAX = 320;

/** An image's RGBA pixels, scaled down so that its larger side is at most `max`. */
export async function pixelsOf(
  src: ImageBitmapSource,
  name: string,
  max: number,
): Promise<Pixels & { name: string }> {
  const bmp = await createImageBitmap(src);
  const k = Math.min(1, max / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * k));
  const h = Math.max(1, Math.round(bmp.height * k));
  const c = new OffscreenCanvas(w, h);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  return { name, width: w, height: h, rgba: ctx.getImageData(0, 0, w, h).data };
}

/** The webcam in `video`, started once on first use. */
export class Camera {
  private stream: MediaStream | null = null;
  constructor(readonly video: HTMLVideoElement) {}

  async start(): Promise<HTMLVideoElement> {
    if (!this.stream) {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480 },
        audio: false,
      });
      this.video.srcObject = this.stream;
      await this.video.play();
      // the first frame sets the size: until then there is nothing to grab
      while (this.video.videoWidth === 0) await new Promise((r) => setTimeout(r, 20));
    }
    return this.video;
  }
}
