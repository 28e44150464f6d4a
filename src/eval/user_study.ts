/**
 * The paper's USER metric (sec. 4): people see triplets of clips of one person, two real and one
 * generated, and pick the fake; USER = the fraction picked right (lower is better, 1/3 is chance).
 *
 * `makeStudy` turns an `evaluate` folder into a self-contained HTML page (clips as inline GIFs, no
 * network) and a separate key file: the page records only which slot each answer picked, so a
 * participant cannot read the answers out of it. `scoreStudy` pools answer files against the key:
 * accuracy with a Wilson 95% interval.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../engine/rng.js';
import { InputError } from '../core/errors.js';
import { upscale, type RgbImage } from '../media/png.js';
import { VideoEncoder } from '../media/video.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readClips } from './units.js';

export interface StudyKey {
  study: string;
  /** per trial: which slot (0-2) holds the generated clip */
  fake: number[];
  trials: { video: string; T: number; method: string }[];
}

export interface Answers {
  study: string;
  answers: { trial: number; picked: number }[];
}

async function gif(frames: RgbImage[], fps: number, scale: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'study-'));
  try {
    const big = frames.map((f) => upscale(f, scale));
    const path = join(dir, 'clip.gif');
    const enc = new VideoEncoder(path, big[0]!.width, big[0]!.height, { fps });
    for (const f of big) await enc.write(f.data);
    await enc.close();
    return `data:image/gif;base64,${readFileSync(path).toString('base64')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Builds the study from the units of an `evaluate` folder (`T`, `method`): per trial, three
 * disjoint stretches of one video's hold-out frames, two shown real and one generated, in a seeded
 * random order. Writes the page and `<page>.key.json`.
 */
export async function makeStudy(o: {
  from: string;
  out: string;
  T: number;
  method: 'fine-tuned' | 'feed-forward';
  trials: number;
  seed: number;
  fps?: number;
}): Promise<{ page: string; key: string; trials: number }> {
  const dir = join(o.from, 'units');
  const files = (() => {
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith(`-T${o.T}-frames.png`))
        .sort();
    } catch {
      return [];
    }
  })();
  if (files.length === 0)
    throw new InputError(
      `"${o.from}" has no T = ${o.T} clips (units/*-T${o.T}-frames.png): run talking-heads evaluate -o ${o.from} first (with -T including ${o.T})`,
    );
  const rng = new Rng(o.seed);
  const study = `${o.method}-T${o.T}-seed${o.seed}-${o.trials}trials`;
  const key: StudyKey = { study, fake: [], trials: [] };
  const trials: string[][] = [];
  for (let t = 0; t < o.trials; t++) {
    const file = files[t % files.length]!;
    const clips = readClips(join(dir, file));
    const n = clips.real.length;
    const len = Math.floor(n / 3);
    if (len < 2) throw new InputError(`${file}: ${n} hold-out frames are too few for three clips`);
    // three disjoint stretches; which one the generated clip shows varies
    const segs = [0, 1, 2].map((k) => [k * len, (k + 1) * len] as const);
    const fakeSeg = rng.int(3);
    const shown = segs.map(([a, b], k) => (k === fakeSeg ? clips[o.method] : clips.real).slice(a, b));
    // seeded shuffle of the three slots
    const order = [0, 1, 2];
    for (let i = 2; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    trials.push(await Promise.all(order.map((k) => gif(shown[k]!, o.fps ?? 12.5, 3))));
    key.fake.push(order.indexOf(fakeSeg));
    key.trials.push({ video: file.replace(/-T\d+-frames\.png$/, ''), T: o.T, method: o.method });
  }
  writeFileAtomic(o.out, studyPage(study, trials));
  const keyPath = `${o.out.replace(/\.html?$/, '')}.key.json`;
  writeFileAtomic(keyPath, JSON.stringify(key, null, 1) + '\n');
  return { page: o.out, key: keyPath, trials: trials.length };
}

/** The page: one triplet at a time, a button under each clip; at the end the answers to download. */
export function studyPage(study: string, trials: string[][]): string {
  const data = JSON.stringify({ study, trials });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Which one is generated?</title>
<style>
 body { font-family: sans-serif; max-width: 760px; margin: 2em auto; }
 .row { display: flex; gap: 16px; } .cell { text-align: center; }
 img { width: 192px; height: 192px; image-rendering: pixelated; border: 1px solid #ccc; }
 button { margin-top: 6px; font-size: 1em; padding: 4px 12px; }
</style></head>
<body>
<h1>Which one is generated?</h1>
<p>Each row shows three short clips of one person. Two are real, one was made by a model. Pick the one you think is generated.</p>
<p id="progress"></p>
<div id="trial" class="row"></div>
<div id="done" hidden>
 <p>Thank you. Download your answers and send the file to whoever runs the study.</p>
 <button id="download">Download answers</button>
 <pre id="answers"></pre>
</div>
<script>
const DATA = ${data};
const answers = [];
let t = 0;
function show() {
  const box = document.getElementById('trial');
  box.innerHTML = '';
  if (t >= DATA.trials.length) {
    document.getElementById('progress').textContent = 'Done: ' + DATA.trials.length + ' of ' + DATA.trials.length;
    const json = JSON.stringify({ study: DATA.study, answers }, null, 1);
    document.getElementById('answers').textContent = json;
    document.getElementById('done').hidden = false;
    document.getElementById('download').onclick = () => {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
      a.download = DATA.study + '-answers.json';
      a.click();
    };
    return;
  }
  document.getElementById('progress').textContent = 'Trial ' + (t + 1) + ' of ' + DATA.trials.length;
  DATA.trials[t].forEach((src, slot) => {
    const cell = document.createElement('div');
    cell.className = 'cell';
    const img = document.createElement('img');
    img.src = src;
    img.alt = 'clip ' + (slot + 1);
    const b = document.createElement('button');
    b.textContent = 'Generated';
    b.dataset.slot = String(slot);
    b.onclick = () => { answers.push({ trial: t, picked: slot }); t++; show(); };
    cell.append(img, document.createElement('br'), b);
    box.append(cell);
  });
}
show();
</script>
</body></html>
`;
}

/** Wilson score interval for k successes in n trials (z = 1.96: 95%). */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

export interface StudyScore {
  answers: number;
  correct: number;
  user: number;
  interval: [number, number];
  participants: number;
}

/** Pools answer files against the key: USER accuracy (1/3 = chance) with its Wilson 95% interval. */
export function scoreStudy(files: Answers[], key: StudyKey): StudyScore {
  let n = 0;
  let k = 0;
  for (const f of files) {
    if (f.study !== key.study)
      throw new InputError(`An answers file is for study "${f.study}", the key for "${key.study}"`);
    for (const a of f.answers) {
      if (!(a.trial >= 0 && a.trial < key.fake.length) || ![0, 1, 2].includes(a.picked))
        throw new InputError(`Answer ${JSON.stringify(a)} is not a trial of this study with a slot 0-2`);
      n++;
      if (a.picked === key.fake[a.trial]) k++;
    }
  }
  return {
    answers: n,
    correct: k,
    user: n ? k / n : NaN,
    interval: wilson(k, n),
    participants: files.length,
  };
}

export function scoreText(s: StudyScore): string {
  return (
    `USER = ${s.user.toFixed(3)} (${s.correct} of ${s.answers} answers found the generated clip; ` +
    `${s.participants} participant(s)); 95% interval ${s.interval[0].toFixed(3)}-${s.interval[1].toFixed(3)} (Wilson). ` +
    `Chance is 0.333; lower means the fakes were harder to tell (paper, FT T = 32: 0.33).`
  );
}
