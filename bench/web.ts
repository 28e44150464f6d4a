/**
 * `npm run bench:web`: the browser app (issue 13) in this machine's chromium, driven for a while by
 * the bundled driver clip and by a fake webcam (a procedural head video played as a .y4m), with the
 * shipped model personalised from 8 photos of a procedural person (fine-tuned 20 epochs). Prints,
 * per driver, frames shown per second (mean, and the slowest and fastest second), the engine's
 * tracking and the generator's time per frame, and memory at the start and the end: TF.js tensors
 * and bytes in the workers and, through the browser's own accounting
 * (performance.measureUserAgentSpecificMemory, available because the page is cross-origin
 * isolated), the page's whole JS memory. Also writes the screenshot docs/web.png shows.
 *
 *   npm run bench:web -- [--seconds 60] [--epochs 20] [--backend wasm] [--json FILE] [--screenshot FILE]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { encodePng } from '../src/media/png.js';
import { closeUpClip, wideClip } from '../src/synthetic/clips.js';
import { encodeY4m } from '../src/media/y4m.js';
import { appStats, launchChromium, waitForApp } from '../src/serve/chromium.js';
import { serve } from '../src/serve/server.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    epochs: { type: 'string', default: '20' },
    backend: { type: 'string' },
    json: { type: 'string' },
    screenshot: { type: 'string' },
  },
});
const seconds = Number(args.seconds);

interface Memory {
  engine: { tensors: number; bytes: number };
  render: { tensors: number; bytes: number };
  /** the page's JS memory (all its workers), bytes, as the browser measures it */
  page: number | null;
}

const stats = appStats;
const waitFor = (page: Page, condition: string, timeout = 600_000) => waitForApp(page, condition, timeout);
const memory = async (page: Page): Promise<Memory> => {
  const tf = (await page.evaluate('window.talkingHeads.memory()')) as Omit<Memory, 'page'>;
  const js = (await page.evaluate(
    'performance.measureUserAgentSpecificMemory ? performance.measureUserAgentSpecificMemory().then((m) => m.bytes) : null',
  )) as number | null;
  return { ...tf, page: js };
};

interface DriveResult {
  driver: string;
  seconds: number;
  frames: number;
  fps: number;
  slowestSecond: number;
  fastestSecond: number;
  trackMs: number;
  generateMs: number;
  faceMisses: number;
  memoryStart: Memory;
  memoryEnd: Memory;
}

async function drive(page: Page, button: string, driver: string): Promise<DriveResult> {
  await page.click(button);
  await waitFor(page, 's.outputFrames > 0', 60_000);
  await page.waitForTimeout(3000); // warm-up: kernels set up, the camera's neutral shape measured
  const memoryStart = await memory(page);
  const start = await stats(page);
  const perSecond: number[] = [];
  let track = 0;
  let generate = 0;
  let prev = start.outputFrames;
  for (let s = 0; s < seconds; s++) {
    await page.waitForTimeout(1000);
    const now = await stats(page);
    perSecond.push(now.outputFrames - prev);
    prev = now.outputFrames;
    track += now.lastMs.track;
    generate += now.lastMs.generate;
  }
  const end = await stats(page);
  const memoryEnd = await memory(page);
  await page.click('#drive-stop');
  const frames = end.outputFrames - start.outputFrames;
  return {
    driver,
    seconds,
    frames,
    fps: frames / seconds,
    slowestSecond: Math.min(...perSecond),
    fastestSecond: Math.max(...perSecond),
    trackMs: track / seconds,
    generateMs: generate / seconds,
    faceMisses: end.faceMisses - start.faceMisses,
    memoryStart,
    memoryEnd,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-web-'));
const { server, url } = await serve({ port: 0, host: '127.0.0.1' });
try {
  // 8 photos of one procedural person (an identity meta-learning never saw), 256 px
  const person = closeUpClip(3, 1500, 80, 256);
  const photos = [0, 10, 20, 30, 40, 50, 60, 70].map((f, i) => {
    const file = join(dir, `photo-${i + 1}.png`);
    writeFileSync(file, encodePng({ width: 256, height: 256, data: person.frames[f]! }));
    return file;
  });
  const cam = wideClip(5, 777, 75);
  const camera = join(dir, 'camera.y4m');
  writeFileSync(camera, encodeY4m(cam.frames, cam.width, cam.height, cam.fps));

  const browser = await launchChromium({ camera });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
    const t0 = Date.now();
    await page.goto(url + (args.backend ? `?backend=${args.backend}` : ''));
    await waitFor(page, 's.ready', 120_000);
    const loadS = (Date.now() - t0) / 1000;
    const engine = await stats(page);
    const backendText = await page.textContent('#backend');
    console.log(`page ready in ${loadS.toFixed(1)} s; engine: ${backendText}`);

    let t = Date.now();
    await page.setInputFiles('#photos', photos);
    await waitFor(page, "s.personMode === 'feed-forward' && !document.getElementById('finetune').disabled");
    const feedForwardS = (Date.now() - t) / 1000;
    console.log(`8 photos -> faces -> feed-forward model: ${feedForwardS.toFixed(1)} s`);
    t = Date.now();
    await page.selectOption('#epochs', args.epochs);
    await page.click('#finetune');
    await waitFor(page, "s.personMode === 'fine-tuned' && !document.getElementById('drive-clip').disabled");
    const fineTuneS = (Date.now() - t) / 1000;
    const steps = (await stats(page)).personSteps;
    console.log(
      `fine-tuning, ${args.epochs} epochs (${steps} steps): ${fineTuneS.toFixed(1)} s (${(fineTuneS / steps).toFixed(2)} s a step)`,
    );

    const results: DriveResult[] = [];
    results.push(await drive(page, '#drive-clip', 'driver clip (landmarks known)'));
    results.push(await drive(page, '#drive-camera', 'fake webcam 640x360 (tracked)'));
    if (args.screenshot) {
      await page.click('#drive-clip');
      await page.waitForTimeout(4000);
      await page.screenshot({ path: args.screenshot, fullPage: true });
      await page.click('#drive-stop');
    }

    const mb = (b: number | null) => (b === null ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MB`);
    console.log(
      `\n| driver | frames/s (mean) | slowest / fastest second | tracking ms | generator ms | tensors start -> end | TF.js bytes | page JS memory |`,
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const s = r.memoryStart;
      const e = r.memoryEnd;
      console.log(
        `| ${r.driver} | ${r.fps.toFixed(1)} | ${r.slowestSecond} / ${r.fastestSecond} | ${r.trackMs.toFixed(1)} | ${r.generateMs.toFixed(1)} | ${s.engine.tensors + s.render.tensors} -> ${e.engine.tensors + e.render.tensors} | ${mb(s.engine.bytes + s.render.bytes)} -> ${mb(e.engine.bytes + e.render.bytes)} | ${mb(s.page)} -> ${mb(e.page)} |`,
      );
    }
    const record = {
      date: new Date().toISOString(),
      chromium: browser.version(),
      backend: engine.backend,
      threads: engine.threads,
      seconds,
      loadS,
      feedForwardS,
      fineTune: { steps, seconds: fineTuneS },
      results,
    };
    if (args.json) writeFileSync(args.json, JSON.stringify(record, null, 1) + '\n');
  } finally {
    await browser.close();
  }
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
