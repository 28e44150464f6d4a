/** The browser's twin of src/media/ffmpeg.ts (the web build substitutes it): no ffmpeg in a page. */
export interface Found {
  path: string;
  source: 'PATH' | 'npm';
}

export function findFfmpeg(): Found | null {
  return null;
}
