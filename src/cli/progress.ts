/**
 * Progress for long work: a live bar (step, metrics, rate, ETA) on a terminal, and a plain line every
 * few seconds when output is a file or CI log, so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, metrics?: Record<string, number>): void;
  stop(): void;
}

function fmt(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 || v === 0 ? v.toFixed(1) : v.toPrecision(3)}`)
    .join('  ');
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

export function progress(
  label: string,
  total: number,
  start = 0,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const t0 = performance.now();
  // items per second since the bar started (a bar made at the first result starts there: no rate yet)
  const rate = (done: number) => {
    const r = (done - start) / ((performance.now() - t0) / 1000);
    return Number.isFinite(r) && r > 0 ? r : NaN;
  };
  const shown = (r: number) => (Number.isNaN(r) ? '-' : r.toFixed(2));
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} {bar} {value}/{total} | {metrics} | {rate}/s | ETA {eta_s}`,
        stream,
        hideCursor: true,
        barsize: 24,
        formatValue: (v, _o, type) => (type === 'eta' ? eta(Number(v)) : String(v)),
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, start, { metrics: '', rate: '-', eta_s: '--' });
    return {
      update(done, metrics = {}) {
        const r = rate(done);
        bar.update(done, { metrics: fmt(metrics), rate: shown(r), eta_s: eta((total - done) / r) });
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done, metrics = {}) {
      const now = performance.now();
      if (now - last < 5000 && done < total) return;
      last = now;
      const r = rate(done);
      stream.write(
        `${label} ${done}/${total} | ${fmt(metrics)} | ${shown(r)}/s | ETA ${eta((total - done) / r)}\n`,
      );
    },
    stop() {},
  };
}

/** The bar of a training loop (meta-train, fine-tune): each step's G and D losses and pixel L1. */
export class StepBar {
  private bar: Progress | null = null;
  constructor(private readonly label: string) {}

  start(total: number, from = 0): void {
    this.bar = progress(this.label, total, from);
  }

  step(step: number, m: Record<string, number>): void {
    this.bar?.update(step, { G: m['lossEG']!, D: m['lossD']!, L1: m['pixel']! });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
