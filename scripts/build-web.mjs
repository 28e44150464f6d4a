// Bundles the browser app (web/) with esbuild into web/dist/: the page script, the engine worker,
// index.html and TF.js's wasm binaries. The app imports the library in src/ as it is; two modules
// that do file I/O in Node have browser twins (web/src/shims/), and Node's built-in modules, which
// the bundle references but never calls in the browser, become stubs that throw if they ever are.
import { build } from 'esbuild';
import { builtinModules, createRequire } from 'node:module';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const out = join(root, 'web', 'dist');
const watch = process.argv.includes('--watch');

const twins = {
  [join(root, 'src', 'engine', 'tf.ts')]: join(root, 'web', 'src', 'shims', 'tf.ts'),
  [join(root, 'src', 'pretrained', 'faceapi_files.ts')]: join(
    root,
    'web',
    'src',
    'shims',
    'faceapi_files.ts',
  ),
  [join(root, 'src', 'media', 'ffmpeg.ts')]: join(root, 'web', 'src', 'shims', 'ffmpeg.ts'),
};

/** @type {import('esbuild').Plugin} */
const browserTwins = {
  name: 'browser-twins',
  setup(b) {
    b.onResolve({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith('.')) return undefined;
      const ts = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      return twins[ts] ? { path: twins[ts] } : undefined;
    });
    // face-api's ESM build imports the whole of @tensorflow/tfjs; it only needs the core ops (and
    // must share our one engine), so it gets tfjs-core.
    const core = join(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist', 'index.js');
    b.onResolve({ filter: /^@tensorflow\/tfjs(\/dist\/index\.js)?$/ }, () => ({ path: core }));
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /.*/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (
        !builtins.has(name) ||
        (!args.path.startsWith('node:') && args.importer.includes('node_modules/@tensorflow'))
      )
        return undefined;
      return { path: name, namespace: 'node-stub' };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (args) => {
      const mod = await import(`node:${args.path}`);
      const names = Object.keys(mod).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [
        `const stub = (name) => function () { throw new Error('node:${args.path} ' + name + ' is not available in the browser'); };`,
        ...names.map((n) => `export const ${n} = stub(${JSON.stringify(n)});`),
        'export default {};',
      ];
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const options = {
  entryPoints: {
    app: join(root, 'web', 'src', 'app.ts'),
    worker: join(root, 'web', 'src', 'worker.ts'),
    render_worker: join(root, 'web', 'src', 'render_worker.ts'),
  },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome110',
  outdir: out,
  sourcemap: true,
  minify: !watch,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [browserTwins],
  define: { 'process.env.NODE_ENV': '"production"' },
};
await build(options);
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'web', 'style.css'), join(out, 'style.css'));
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
mkdirSync(join(out, 'tfjs'), { recursive: true });
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')))
  copyFileSync(join(wasmDir, f), join(out, 'tfjs', f));
console.log(`web app: built ${out}`);
