// Builds the optional addons: oneDNN's (native/) when oneDNN's headers are installed (Debian/Ubuntu:
// apt-get install libdnnl-dev) and MPI's (native/mpi/, data-parallel meta-learning) when Open MPI's
// compiler wrapper is (apt-get install libopenmpi-dev). Never fails the install: without oneDNN the
// project runs on wasm; without MPI, `meta-train --distributed mpi` says how to get it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.TALKING_HEADS_SKIP_NATIVE) {
  console.log('native addons: build skipped (TALKING_HEADS_SKIP_NATIVE)');
  process.exit(0);
}
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.log('native addons: node-gyp not installed (dev dependency); skipping the build');
  process.exit(0);
}
const build = (dir) =>
  spawnSync(
    process.execPath,
    [gyp, 'rebuild', '--silent', '--nodedir=' + (process.env.npm_config_nodedir || '/usr')],
    {
      cwd: join(root, dir),
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  ).status === 0;

const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find(
  existsSync,
);
if (!header)
  console.log('native backend: oneDNN not found (apt-get install libdnnl-dev to enable it); using wasm');
else if (!build('native'))
  console.log('native backend: build FAILED (see above); the project still runs on wasm');
else console.log('native backend: built native/build/Release/nth_native.node');

const mpicc = spawnSync('mpicc', ['--showme:version'], { stdio: 'ignore' }).status === 0;
if (!mpicc)
  console.log(
    'mpi addon: Open MPI not found (apt-get install libopenmpi-dev openmpi-bin for meta-train --distributed mpi)',
  );
else if (!build(join('native', 'mpi')))
  console.log('mpi addon: build FAILED (see above); training runs in one process');
else console.log('mpi addon: built native/mpi/build/Release/nth_mpi.node');
