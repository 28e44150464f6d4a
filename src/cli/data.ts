/** `talking-heads synth` and `talking-heads show`. */
import { join } from 'node:path';
import { contactSheet } from '../data/contact_sheet.js';
import { Dataset } from '../data/dataset.js';
import { writePng } from '../data/png.js';
import { preprocess, type PreprocessOptions } from '../data/preprocess.js';
import { initEngine } from '../engine/backend.js';
import { writeSyntheticDataset, type SynthOptions } from '../data/synthetic/write.js';
import { progress } from './progress.js';

export async function runSynth(o: SynthOptions, log: (s: string) => void = console.log): Promise<void> {
  const t0 = performance.now();
  const total = o.identities * o.sequences;
  log(
    `Rendering ${o.identities} identities x ${o.sequences} sequences x ${o.frames} frames at ${o.size}px into ${o.out}`,
  );
  const bar = progress('synth', total);
  try {
    await writeSyntheticDataset(o, (done, n) => bar.update(done + (total - n), {}));
  } finally {
    bar.stop();
  }
  const ds = Dataset.open(o.out);
  const sheet = join(o.out, 'contact_sheet.png');
  writePng(sheet, contactSheet(ds));
  log(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${ds.validate()}\nContact sheet: ${sheet}`);
}

export function runShow(
  dir: string,
  out: string | undefined,
  videos: number,
  frames: number,
  log: (s: string) => void = console.log,
): void {
  const ds = Dataset.open(dir);
  const path = out ?? join(dir, 'contact_sheet.png');
  writePng(path, contactSheet(ds, videos, frames));
  log(`${ds.validate()}\nContact sheet (frames with landmarks, landmark images): ${path}`);
}

export async function runPreprocess(
  o: Partial<PreprocessOptions> &
    Pick<PreprocessOptions, 'input' | 'out'> & { backend?: string; workers?: number },
  log: (s: string) => void = console.log,
): Promise<void> {
  const engine = await initEngine({ backend: o.backend });
  log(
    `Preprocessing ${o.input} -> ${o.out} (faces and landmarks: face-api on ${engine.backend}, ${o.workers ?? 1} worker(s))`,
  );
  let bar: ReturnType<typeof progress> | null = null;
  const result = await preprocess({ ...o, backend: engine.backend }, (done, total, r) => {
    bar ??= progress('preprocess', total);
    bar.update(done, { frames: r.kept });
  });
  (bar as ReturnType<typeof progress> | null)?.stop();
  log(result.summary);
  const ds = Dataset.open(o.out);
  if (ds.numVideos > 0) {
    const sheet = join(o.out, 'contact_sheet.png');
    writePng(sheet, contactSheet(ds));
    log(`${ds.validate()}\nContact sheet: ${sheet}`);
  }
  log(`Log: ${result.logPath}`);
  if (result.reports.some((r) => r.status === 'failed')) process.exitCode = 2;
}
