/**
 * `npm run stress:serve`: `talking-heads serve` under load on 127.0.0.1 (issue 24). For `--seconds`,
 * `--clients` concurrent clients fetch the page and the default model again and again, while slow
 * clients read the model a few KB at a time and aborting clients hang up mid-file. Then: every
 * complete request answered 200 with the whole file, other methods refused (405), a symbolic link out
 * of the served folders refused (404), memory and open file descriptors back where they started.
 *
 *   npm run stress:serve -- [--seconds 30] [--clients 200] [--json FILE]
 */
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, cpSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve, WEB_DIST } from '../src/serve/server.js';
import { SHIPPED_MODELS_DIR } from '../src/train/model.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    clients: { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const CLIENTS = Number(args.clients);

// The served web folder with a symbolic link out of it (to /etc/hostname), which must not be served.
const dir = mkdtempSync(join(tmpdir(), 'nth-serve-'));
const web = join(dir, 'web');
cpSync(WEB_DIST, web, { recursive: true });
symlinkSync('/etc/hostname', join(web, 'outside.txt'));
const { server, url } = await serve({ port: 0, host: '127.0.0.1', webDir: web });
const base = new URL(url);
const model = 'real-64px.safetensors';
const modelBytes = statSync(join(SHIPPED_MODELS_DIR, model)).size;
const pageBytes = statSync(join(web, 'index.html')).size;

const fds = () => readdirSync('/proc/self/fd').length;
const gc = (globalThis as { gc?: () => void }).gc;
const memory = () => {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};

function get(path: string, method = 'GET'): Promise<{ status: number; bytes: number; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, method, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, res }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const counts = { complete: 0, wrong: 0, errors: 0, slow: 0, aborted: 0 };
const fds0 = fds();
const mem0 = memory();
const until = Date.now() + SECONDS * 1000;

async function client(i: number): Promise<void> {
  while (Date.now() < until) {
    const path = i % 2 ? '/' : `/models/${model}`;
    try {
      const r = await get(path);
      const want = path === '/' ? pageBytes : modelBytes;
      if (r.status === 200 && r.bytes === want) counts.complete++;
      else counts.wrong++;
    } catch {
      counts.errors++;
    }
  }
}

/** Reads the model 16 KB at a time with pauses, for a few seconds, then hangs up. */
async function slowClient(): Promise<void> {
  while (Date.now() < until) {
    await new Promise<void>((resolve) => {
      const req = request(
        { host: base.hostname, port: base.port, path: `/models/${model}`, agent: false },
        (res) => {
          res.pause();
          const tick = setInterval(() => {
            res.read(16 * 1024);
          }, 50);
          setTimeout(() => {
            clearInterval(tick);
            req.destroy();
            counts.slow++;
            resolve();
          }, 3000);
        },
      );
      req.on('error', () => resolve());
      req.end();
    });
  }
}

/** Hangs up as soon as the first bytes of the model arrive. */
async function abortingClient(): Promise<void> {
  while (Date.now() < until) {
    await new Promise<void>((resolve) => {
      const req = request(
        { host: base.hostname, port: base.port, path: `/models/${model}`, agent: false },
        (res) => {
          res.once('data', () => {
            req.destroy();
            counts.aborted++;
            resolve();
          });
        },
      );
      req.on('error', () => resolve());
      req.end();
    });
  }
}

const t0 = performance.now();
await Promise.all([
  ...Array.from({ length: CLIENTS }, (_, i) => client(i)),
  ...Array.from({ length: 10 }, () => slowClient()),
  ...Array.from({ length: 10 }, () => abortingClient()),
]);
const seconds = (performance.now() - t0) / 1000;

// What must be refused.
const methods: Record<string, number> = {};
for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) methods[m] = (await get('/', m)).status;
const symlink = (await get('/outside.txt')).status;
const traversal = (await get('/models/..%2Fpackage.json')).status;

await new Promise((r) => setTimeout(r, 2000)); // let closed sockets and streams settle
const fds1 = fds();
const mem1 = memory();
server.close();
rmSync(dir, { recursive: true, force: true });

const report = {
  date: new Date().toISOString(),
  seconds: Number(seconds.toFixed(1)),
  clients: CLIENTS,
  ...counts,
  requestsPerSecond: Number((counts.complete / seconds).toFixed(1)),
  methods,
  symlink,
  traversal,
  fds: { start: fds0, end: fds1 },
  rssMB: { start: Math.round(mem0.rss / 2 ** 20), end: Math.round(mem1.rss / 2 ** 20) },
  heapMB: { start: Math.round(mem0.heap / 2 ** 20), end: Math.round(mem1.heap / 2 ** 20) },
};
console.log(JSON.stringify(report, null, 1));
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 1) + '\n');
const good =
  counts.wrong === 0 &&
  counts.errors === 0 &&
  Object.values(methods).every((s) => s === 405) &&
  symlink === 404 &&
  traversal === 404 &&
  fds1 <= fds0 + 2;
console.log(good ? 'serve under load: ok' : 'serve under load: FAILED');
process.exitCode = good ? 0 : 1;
