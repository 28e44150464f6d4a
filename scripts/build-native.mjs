// Builds the optional oneDNN addon (native/) when oneDNN's headers are installed (Debian/Ubuntu:
// apt-get install libdnnl-dev). Never fails the install: without oneDNN the project runs on wasm.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find(
  existsSync,
);
if (process.env.TALKING_HEADS_SKIP_NATIVE) {
  console.log('native backend: build skipped (TALKING_HEADS_SKIP_NATIVE)');
  process.exit(0);
}
if (!header) {
  console.log('native backend: oneDNN not found (apt-get install libdnnl-dev to enable it); using wasm');
  process.exit(0);
}
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.log('native backend: node-gyp not installed (dev dependency); skipping the build');
  process.exit(0);
}
const r = spawnSync(
  process.execPath,
  [gyp, 'rebuild', '--silent', '--nodedir=' + (process.env.npm_config_nodedir || '/usr')],
  {
    cwd: join(root, 'native'),
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
if (r.status !== 0) {
  console.log('native backend: build FAILED (see above); the project still runs on wasm');
  process.exit(0);
}
console.log('native backend: built native/build/Release/nth_native.node');
