/**
 * The browser app's server (`talking-heads serve`): static files only, from this machine. It serves
 * the built page (web/dist), the shipped model files (models/) and face-api's bundled weights, with
 * the cross-origin isolation headers (COOP + COEP) without which browsers deny SharedArrayBuffer,
 * and so TF.js's wasm backend its threads. No upload route exists: photos, webcam frames and models
 * stay in the page.
 */
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { findFaceModels } from '../pretrained/faceapi_files.js';
import { SHIPPED_MODELS_DIR } from '../train/model.js';

/** The built app (npm run build:web): this file is src/serve/ or dist/serve/, two below the root. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.bin': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
};

/** Headers every response carries: cross-origin isolation, and nothing cached stale. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

export interface ServeOptions {
  port: number;
  host: string;
  /** the built app's folder */
  webDir?: string;
  modelsDir?: string;
  faceModelsDir?: string | null;
}

export class ServeError extends Error {
  override name = 'ServeError';
}

/** The file a URL path names under one of the served roots, or null (outside them, or missing). */
export function resolveStatic(
  urlPath: string,
  roots: { web: string; models: string; faceModels: string | null },
): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  const mounts: [string, string | null][] = [
    ['/models/', roots.models],
    ['/face-api/', roots.faceModels],
    ['/', roots.web],
  ];
  for (const [prefix, root] of mounts) {
    if (!path.startsWith(prefix)) continue;
    if (!root) return null;
    const rel = path.slice(prefix.length) || 'index.html';
    const file = normalize(join(root, rel));
    if (!file.startsWith(normalize(root + sep))) return null; // ../ out of the root
    if (prefix === '/models/' && extname(file) !== '.safetensors') return null;
    if (!existsSync(file) || !statSync(file).isFile()) return null;
    // a symbolic link that leads out of the root is not served either
    const real = realpathSync(file);
    return real.startsWith(realpathSync(root) + sep) ? file : null;
  }
  return null;
}

/** Starts the server; resolves once it listens (port 0: a free port, read it from the address). */
export async function serve(o: ServeOptions): Promise<{ server: Server; url: string }> {
  const web = o.webDir ?? WEB_DIST;
  if (!existsSync(join(web, 'index.html')))
    throw new ServeError(`The web app is not built (${web} has no index.html): run npm run build:web`);
  const roots = {
    web,
    models: o.modelsDir ?? SHIPPED_MODELS_DIR,
    faceModels: o.faceModelsDir === undefined ? findFaceModels() : o.faceModelsDir,
  };
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const file = resolveStatic(req.url ?? '/', roots);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    // pipeline, not pipe: a client that goes away mid-file closes the file too (no descriptor leak)
    else pipeline(createReadStream(file), res, () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE' ? new ServeError(`Port ${o.port} is in use: choose another with --port`) : e,
      ),
    );
    server.listen(o.port, o.host, resolve);
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { server, url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${addr.port}/` };
}
