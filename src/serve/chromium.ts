/**
 * Debian's chromium driven by playwright-core (a devDependency; .ci/run installs chromium): for the
 * browser app's end-to-end test, its benchmark and screenshots. The flags keep chromium off the
 * network (this machine has none) and give it a fake camera playing a .y4m file when asked.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Why a browser test cannot run here, or null when it can. */
export function chromiumMissing(): string | null {
  if (!existsSync(CHROMIUM))
    return `${CHROMIUM} not installed (apt-get install chromium; .ci/run installs it)`;
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci installs it)';
  }
  return null;
}

/** Headless chromium; `camera`: a .y4m file its fake webcam plays (in a loop), permission granted. */
export async function launchChromium(o: { camera?: string } = {}): Promise<Browser> {
  const why = chromiumMissing();
  if (why) throw new Error(why);
  const { chromium } = await import('playwright-core');
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ];
  if (o.camera)
    args.push(
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${o.camera}`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** What the app's page exposes as window.talkingHeads.stats (web/src/app.ts). */
export interface AppStats {
  ready: boolean;
  backend: string;
  threads: number;
  /** the meta-trained model the page runs, and its resolution */
  model: string;
  resolution: number;
  personMode: string;
  personSteps: number;
  outputFrames: number;
  faceMisses: number;
  fps: number;
  lastMs: { track: number; generate: number };
  errors: string[];
}

/** The app page's stats (page code as strings: this program is typed for Node, not the DOM). */
export const appStats = (page: Page) => page.evaluate('window.talkingHeads.stats') as Promise<AppStats>;

/** Waits until `condition` (a JS expression over `s`, the stats) holds; an error the page shows fails it. */
export const waitForApp = (page: Page, condition: string, timeout = 120_000) =>
  page.waitForFunction(
    `(() => { const s = window.talkingHeads.stats; if (s.errors.length) throw new Error(s.errors.join('; ')); return ${condition}; })()`,
    null,
    { timeout, polling: 100 },
  );
