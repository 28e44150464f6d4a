// The USER metric kit (issue 12): the Wilson interval against published values, scoring against a
// key, and the study page in a real browser (Debian's chromium driven by playwright-core): a
// participant clicks through every triplet, downloads the answers, and the score is checked.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { writePng, type RgbImage } from '../src/media/png.js';
import { closeUpClip } from '../src/synthetic/clips.js';
import { clipsFile, clipsStrip } from '../src/eval/units.js';
import { makeStudy, scoreStudy, wilson, type Answers, type StudyKey } from '../src/eval/user_study.js';
import { tempDir } from './helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const playwright = (() => {
  try {
    require.resolve('playwright-core');
    return null;
  } catch {
    return 'playwright-core is not installed (npm ci installs it)';
  }
})();
const browserSkip = existsSync(CHROMIUM)
  ? (playwright ?? false)
  : `${CHROMIUM} not installed (apt-get install chromium; .ci/run installs it)`;

/** An evaluate-like folder with two units' clips: real frames, and tinted copies as "generated". */
function fakeEvaluateFolder(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'units'));
  for (const id of ['synth01000_seq000', 'synth01001_seq000']) {
    const clip = closeUpClip(id.length + Number(id[9]), 1, 12, 32);
    const real: RgbImage[] = clip.frames.map((f) => ({ width: 32, height: 32, data: f }));
    const tint = real.map((f) => ({ ...f, data: f.data.map((v, i) => (i % 3 === 0 ? 255 - v : v)) }));
    writePng(clipsFile(dir, id, 8), clipsStrip({ real, 'feed-forward': tint, 'fine-tuned': tint }));
  }
  return dir;
}

describe('user study', () => {
  test('Wilson 95% interval: published values', () => {
    const [lo, hi] = wilson(7, 10);
    assert.ok(Math.abs(lo - 0.3968) < 1e-4 && Math.abs(hi - 0.8922) < 1e-4, `${lo} ${hi}`);
    const [lo0, hi0] = wilson(0, 10);
    assert.ok(Math.abs(lo0) < 1e-12 && Math.abs(hi0 - 0.2775) < 1e-4, `${lo0} ${hi0}`);
    const [a, b] = wilson(3, 10);
    assert.ok(Math.abs(a - (1 - hi)) < 1e-12 && Math.abs(b - (1 - lo)) < 1e-12, 'symmetric');
  });

  test('make writes a page without the answers and a key; score pools participants and checks the study', async () => {
    const from = fakeEvaluateFolder();
    const out = join(tempDir(), 'study.html');
    const r = await makeStudy({ from, out, T: 8, method: 'fine-tuned', trials: 6, seed: 1 });
    const key = JSON.parse(readFileSync(r.key, 'utf8')) as StudyKey;
    assert.equal(key.fake.length, 6);
    assert.ok(key.fake.every((s) => [0, 1, 2].includes(s)));
    const page = readFileSync(out, 'utf8');
    assert.ok(!page.includes('"fake"'), 'the page must not carry the key');
    assert.equal((page.match(/data:image\/gif;base64,/g) ?? []).length, 18);
    const right: Answers = { study: key.study, answers: key.fake.map((s, trial) => ({ trial, picked: s })) };
    const wrong: Answers = {
      study: key.study,
      answers: key.fake.map((s, trial) => ({ trial, picked: (s + 1) % 3 })),
    };
    const s = scoreStudy([right, wrong], key);
    assert.deepEqual([s.answers, s.correct, s.participants], [12, 6, 2]);
    assert.equal(s.user, 0.5);
    assert.throws(() => scoreStudy([{ ...right, study: 'other' }], key), /study "other"/);
    await assert.rejects(
      makeStudy({ from, out, T: 32, method: 'fine-tuned', trials: 2, seed: 1 }),
      /no T = 32 clips/,
    );
  });

  test(
    'the page in a real browser: click through, download the answers, score them',
    { skip: browserSkip },
    async () => {
      const { chromium } = (await import('playwright-core')) as typeof import('playwright-core');
      const from = fakeEvaluateFolder();
      const dir = tempDir();
      const out = join(dir, 'study.html');
      const r = await makeStudy({ from, out, T: 8, method: 'fine-tuned', trials: 5, seed: 3 });
      const key = JSON.parse(readFileSync(r.key, 'utf8')) as StudyKey;
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
        ],
      });
      try {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(out).href);
        // a participant who finds the fake in trials 0, 2 and 4 and misses 1 and 3
        for (let t = 0; t < 5; t++) {
          assert.equal(await page.textContent('#progress'), `Trial ${t + 1} of 5`);
          assert.equal(await page.locator('#trial img').count(), 3);
          const slot = t % 2 === 0 ? key.fake[t]! : (key.fake[t]! + 1) % 3;
          await page.click(`#trial button[data-slot="${slot}"]`);
        }
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
        const saved = join(dir, 'answers.json');
        await download.saveAs(saved);
        const answers = JSON.parse(readFileSync(saved, 'utf8')) as Answers;
        const s = scoreStudy([answers], key);
        assert.deepEqual([s.answers, s.correct], [5, 3]);
        assert.ok(Math.abs(s.user - 0.6) < 1e-12);
        writeFileSync(join(dir, 'ok'), '');
      } finally {
        await browser.close();
      }
    },
  );
});
