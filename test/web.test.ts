// The browser app end to end (issue 13): `talking-heads serve` + Debian's chromium driven by
// playwright-core, with a fake webcam playing a procedural head video (.y4m). A photo becomes a
// feed-forward model, fine-tuning runs (and stops on cancel), the model downloads and loads in the
// CLI's loader, and the webcam drives it: the output follows the driver.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { encodePng } from '../src/media/png.js';
import { wideClip } from '../src/synthetic/clips.js';
import { encodeY4m } from '../src/media/y4m.js';
import { initEngine } from '../src/engine/backend.js';
import { disposePersonal, loadPersonalModel } from '../src/models/personal.js';
import { appStats, chromiumMissing, launchChromium, waitForApp } from '../src/serve/chromium.js';
import { resolveStatic, serve, WEB_DIST } from '../src/serve/server.js';
import { tempDir } from './helpers/tmp.js';

const require = createRequire(import.meta.url);
const FACE_PHOTO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
const built = existsSync(join(WEB_DIST, 'index.html'));
const skip =
  chromiumMissing() ?? (built ? false : `${WEB_DIST} is not built (npm run build:web; npm ci builds it)`);

describe('server', () => {
  test('serves the app, the models and face-api weights, and nothing outside them', () => {
    const roots = { web: '/srv/web', models: '/srv/models', faceModels: '/srv/face' };
    // (files that do not exist resolve to null, so check the path logic on the real folders)
    const real = { web: WEB_DIST, models: join(process.cwd(), 'models'), faceModels: dirname(FACE_PHOTO) };
    assert.equal(resolveStatic('/models/../package.json', real), null);
    assert.equal(resolveStatic('/models/models.json', real), null, 'only .safetensors under /models/');
    assert.ok(
      resolveStatic('/models/small-64px-ff.safetensors', real)?.endsWith('small-64px-ff.safetensors'),
    );
    assert.equal(resolveStatic('/%2e%2e/%2e%2e/etc/passwd', real), null);
    assert.equal(resolveStatic('/face-api/sample1.jpg', { ...real, faceModels: null }), null);
    assert.equal(resolveStatic('/bad%zz', roots), null);
    // a symbolic link inside a served folder that leads out of it is not served; one inside is
    const web = mkdtempSync(join(tmpdir(), 'nth-web-'));
    writeFileSync(join(web, 'index.html'), '<p>');
    symlinkSync('/etc/hostname', join(web, 'out.txt'));
    symlinkSync(join(web, 'index.html'), join(web, 'in.html'));
    const w = { ...real, web };
    assert.equal(resolveStatic('/out.txt', w), null);
    assert.equal(resolveStatic('/in.html', w), join(web, 'in.html'));
    rmSync(web, { recursive: true, force: true });
  });
});

// (page code as strings: this program is typed for Node, not the DOM)
const pixels = (page: Page, selector: string) =>
  page.evaluate(
    `(() => { const c = document.querySelector(${JSON.stringify(selector)});
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })()`,
  ) as Promise<number[]>;
const meanAbsDiff = (a: number[], b: number[]) =>
  a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
const std = (a: number[]) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
};

const stats = appStats;
const waitFor = waitForApp;

describe('the browser app in chromium', { skip }, () => {
  let browser: Browser;
  let page: Page;
  let close: () => void;
  let home = '';
  const dir = tempDir();

  before(async () => {
    // the fake webcam: another procedural person talking in a wide 640x360 shot, 3 s, looped
    const clip = wideClip(5, 777, 75);
    const camera = join(dir, 'camera.y4m');
    writeFileSync(camera, encodeY4m(clip.frames, clip.width, clip.height, clip.fps));
    const { server, url } = await serve({ port: 0, host: '127.0.0.1' });
    close = () => server.close();
    home = url;
    browser = await launchChromium({ camera });
    page = await browser.newPage({ acceptDownloads: true });
    await page.goto(url);
    await waitFor(page, 's.ready');
  });

  after(async () => {
    await browser?.close();
    close?.();
  });

  test('the page is cross-origin isolated and shows its backend', async () => {
    assert.equal(await page.evaluate('crossOriginIsolated'), true);
    const s = await stats(page);
    assert.ok(['wasm', 'webgl', 'webgpu'].includes(s.backend), s.backend);
    assert.match((await page.textContent('#backend')) ?? '', new RegExp(s.backend));
    // the real-face model by default, and the page says which and at what resolution
    assert.equal(s.model, 'real-64px');
    assert.equal(s.resolution, 64);
    assert.match((await page.textContent('#backend')) ?? '', /model real-64px \(small, 64px\)/);
  });

  test('a photo without a face is rejected with a message; a face photo gives a feed-forward model', async () => {
    const blank = join(dir, 'wall.png');
    writeFileSync(
      blank,
      encodePng({ width: 200, height: 160, data: new Uint8Array(200 * 160 * 3).fill(180) }),
    );
    await page.setInputFiles('#photos', [blank, FACE_PHOTO]);
    await waitFor(page, "s.personMode === 'feed-forward'");
    assert.match((await page.textContent('#rejected')) ?? '', /No face found in "wall\.png"/);
    assert.equal(await page.locator('#faces canvas').count(), 1);
    const face = await pixels(page, '#faces canvas');
    const generated = await pixels(page, '#result canvas');
    assert.ok(std(generated) > 10, `the generated frame is not blank (std ${std(generated).toFixed(1)})`);
    const d = meanAbsDiff(face, generated);
    // real-64px blends the photo warped onto the driving landmarks in (a source warp): redrawn at the
    // photo's own landmarks it is near the crop, but generated and marked, not the crop itself
    assert.ok(
      d > 1 && d < 40,
      `the generated frame is near the input crop, not it (mean |diff| ${d.toFixed(1)})`,
    );
  });

  test('fine-tuning runs with progress, stops on cancel, and the model downloads for the CLI', async () => {
    await waitFor(page, "!document.getElementById('finetune').disabled");
    await page.selectOption('#epochs', '80');
    await page.click('#finetune');
    await waitFor(page, "document.getElementById('progress').value >= 3", 300_000);
    await page.click('#cancel');
    await waitFor(page, "s.personMode === 'fine-tuned'", 120_000);
    const s = await stats(page);
    assert.ok(s.personSteps >= 3 && s.personSteps < 80, `stopped after ${s.personSteps} of 80 steps`);
    assert.match((await page.textContent('#mode')) ?? '', /cancelled/);
    await waitFor(page, "!document.getElementById('download-model').disabled");
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    const file = join(dir, 'person.safetensors');
    await download.saveAs(file);
    await initEngine({ backend: 'cpu' });
    const m = loadPersonalModel(file);
    assert.equal(m.info.mode, 'fine-tuned');
    assert.equal(m.info.steps, s.personSteps);
    assert.equal(m.frames, 1);
    disposePersonal(m);
  });

  test('the webcam drives it: output frames follow the driver, tensors stay flat', async () => {
    const memory = () =>
      page.evaluate('window.talkingHeads.memory()') as Promise<{
        engine: { tensors: number };
        render: { tensors: number };
      }>;
    await page.click('#drive-camera');
    await waitFor(page, 's.outputFrames >= 10', 60_000);
    const before = await memory();
    const shots: number[][] = [];
    for (let i = 0; i < 6; i++) {
      await page.waitForTimeout(250);
      shots.push(await pixels(page, '#output'));
    }
    const changes = shots.slice(1).map((s, i) => meanAbsDiff(s, shots[i]!));
    assert.ok(
      changes.filter((c) => c > 0.5).length >= 3,
      `the output moves with the talking driver (frame-to-frame mean |diff| ${changes.map((c) => c.toFixed(2)).join(', ')})`,
    );
    const s = await stats(page);
    assert.ok(s.faceMisses <= s.outputFrames / 4, `the driver's face is found (${s.faceMisses} misses)`);
    await waitFor(page, `s.outputFrames >= ${s.outputFrames + 10}`, 60_000);
    const later = await memory();
    assert.equal(later.engine.tensors, before.engine.tensors, 'tensors in the engine worker');
    assert.equal(later.render.tensors, before.render.tensors, 'tensors in the render workers');
    await page.click('#drive-stop');
  });

  test('?model=real-128px: the grown 128 px model makes a 128 px feed-forward frame', async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${home}?model=real-128px`);
      await waitFor(other, 's.ready');
      const s = await stats(other);
      assert.equal(s.model, 'real-128px');
      assert.equal(s.resolution, 128);
      assert.match((await other.textContent('#backend')) ?? '', /model real-128px \(small, 128px\)/);
      await other.setInputFiles('#photos', [FACE_PHOTO]);
      await waitFor(other, "s.personMode === 'feed-forward'", 120_000);
      const generated = await pixels(other, '#result canvas');
      assert.ok(std(generated) > 10, `the generated frame is not blank (std ${std(generated).toFixed(1)})`);
    } finally {
      await other.close();
    }
  });
});
