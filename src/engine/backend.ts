/**
 * Backend choice. `native` (oneDNN addon, see native.ts) when it is built; else `wasm` (XNNPACK,
 * patched for training); `cpu` is the always-present fallback and the reference; `tensorflow`
 * (libtensorflow through @tensorflow/tfjs-node or -gpu) is used automatically when installed.
 *
 * Precedence: explicit option (`--backend`) > TALKING_HEADS_BACKEND > `tensorflow` if installed >
 * `native` if built > `wasm`.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { availableParallelism } from 'node:os';
import { patchCpuKernels } from './cpu_kernels.js';
import { loadAddon, nativeLoadError, nativeThreads, registerNativeBackend } from './native.js';
import { tf } from './tf.js';
import { patchWasmKernels, wasmKernelsPatched } from './wasm_kernels.js';

export const BACKEND_NAMES = ['native', 'wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export const ENV_VAR = 'TALKING_HEADS_BACKEND';

/** What the running engine is, frozen once chosen (printed by `doctor`, saved in run folders). */
export interface EngineInfo {
  readonly backend: BackendName;
  /** Threads the backend's kernels use. */
  readonly threads: number;
  readonly simd: boolean;
  /** Where the choice came from. */
  readonly source: 'option' | 'env' | 'auto';
  readonly tfjsVersion: string;
  readonly nodeVersion: string;
  readonly cores: number;
}

export class BackendError extends Error {
  override name = 'BackendError';
}

let current: EngineInfo | null = null;
let tensorflowProbe: Promise<boolean> | null = null;

/** Whether @tensorflow/tfjs-node (or -gpu) can be loaded; it registers the `tensorflow` backend. */
export function tensorflowAvailable(): Promise<boolean> {
  tensorflowProbe ??= (async () => {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await import(pkg);
        return true;
      } catch {
        // not installed (or its native library failed to load): try the next one
      }
    }
    return false;
  })();
  return tensorflowProbe;
}

export function parseBackendName(name: string): BackendName {
  const n = name.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(n)) return n as BackendName;
  throw new BackendError(`Unknown backend "${name}". Choose one of: ${BACKEND_NAMES.join(', ')}.`);
}

export interface InitOptions {
  /** Backend name; overrides TALKING_HEADS_BACKEND. */
  backend?: string | undefined;
  /** Threads for the native backend (default: TALKING_HEADS_THREADS, else all cores). */
  threads?: number | undefined;
}

/** Whether the native addon is built and loads (the reason is in nativeLoadError() otherwise). */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/**
 * Chooses, initialises and patches a backend. Calling it again with the same choice is cheap; with a
 * different one it switches (tensors of the old backend move lazily, as TF.js does).
 */
export async function initEngine(opts: InitOptions = {}): Promise<EngineInfo> {
  const fromEnv = process.env[ENV_VAR];
  let name: BackendName;
  let source: EngineInfo['source'];
  if (opts.backend !== undefined && opts.backend !== '') {
    name = parseBackendName(opts.backend);
    source = 'option';
  } else if (fromEnv !== undefined && fromEnv !== '') {
    name = parseBackendName(fromEnv);
    source = 'env';
  } else {
    name = (await tensorflowAvailable()) ? 'tensorflow' : nativeAvailable() ? 'native' : 'wasm';
    source = 'auto';
  }
  patchCpuKernels();
  const threadsEnv = Number(process.env['TALKING_HEADS_THREADS'] ?? '');
  const threads =
    opts.threads ?? (Number.isInteger(threadsEnv) && threadsEnv > 0 ? threadsEnv : availableParallelism());
  if (name === 'native' && !registerNativeBackend(threads)) {
    throw new BackendError(
      `Backend "native" is not available: the oneDNN addon is ${nativeLoadError()}. Use --backend wasm.`,
    );
  }
  if (current?.backend === name && tf.getBackend() === name) return current;

  if (name === 'tensorflow' && !(await tensorflowAvailable())) {
    throw new BackendError(
      'Backend "tensorflow" is not available: install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu) ' +
        'on a machine that can download libtensorflow, or use --backend wasm.',
    );
  }
  const before = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  const ok = await tf.setBackend(name);
  if (!ok) throw new BackendError(`Backend "${name}" failed to initialise (see the warning above).`);
  await tf.ready();
  // Emscripten's runtime (wasm backend) installs handlers that rethrow any uncaught error from
  // inside its minified source, so Node prints megabytes of code instead of the error. Remove them.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    const keep = before[event] as unknown[];
    for (const l of process.listeners(event as 'uncaughtException')) {
      if (!keep.includes(l)) process.removeListener(event as 'uncaughtException', l);
    }
  }
  patchCpuKernels();
  if (name === 'wasm') patchWasmKernels();

  current = Object.freeze({
    backend: name,
    threads:
      name === 'wasm'
        ? getThreadsCount()
        : name === 'cpu'
          ? 1
          : name === 'native'
            ? nativeThreads()
            : availableParallelism(),
    simd: name === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : name !== 'cpu',
    source,
    tfjsVersion: tf.version_core,
    nodeVersion: process.versions.node,
    cores: availableParallelism(),
  });
  return current;
}

export function engineInfo(): EngineInfo {
  if (!current) throw new BackendError('The engine is not initialised: call initEngine() first.');
  return current;
}

export { wasmKernelsPatched };
