/**
 * A render worker: the personalised generator G' only (animate/animate.ts renderFrames), landmarks
 * in, frames out. The page runs one per core on wasm (frames in parallel) or one on a GPU.
 */
import './wasm_setup.js';
import { renderFrames } from '../../src/animate/animate.js';
import { decodePersonalModel, disposePersonal, type PersonalModel } from '../../src/models/personal.js';
import { tf } from '../../src/engine/tf.js';
import { startBackend } from './backend.js';
import type { FromRender, ToRender } from './protocol.js';
import { LANDMARK_VALUES } from '../../src/faces/landmarks.js';

interface WorkerScope {
  postMessage(message: FromRender, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToRender>) => void) | null;
}
const scope = self as unknown as WorkerScope;
let model: PersonalModel | null = null;
let queue: Promise<void> = Promise.resolve();

async function handle(m: ToRender): Promise<void> {
  switch (m.type) {
    case 'init': {
      const b = await startBackend(m.backend);
      scope.postMessage({ type: 'ready', backend: b.name, threads: b.threads });
      return;
    }
    case 'model':
      if (model) disposePersonal(model);
      model = decodePersonalModel(m.bytes, 'the personalised model');
      renderFrames(model, [model.landmarks.subarray(0, LANDMARK_VALUES)]); // warm-up: the first call sets kernels up
      scope.postMessage({ type: 'loaded' });
      return;
    case 'memory': {
      const mem = tf.memory();
      scope.postMessage({ type: 'memory', tensors: mem.numTensors, bytes: mem.numBytes });
      return;
    }
    case 'render': {
      if (!model) throw new Error('no model to render with');
      const t0 = performance.now();
      const [img] = renderFrames(model, [m.landmarks]);
      scope.postMessage({ type: 'rendered', seq: m.seq, rgb: img!.data, ms: performance.now() - t0 }, [
        img!.data.buffer,
      ]);
      return;
    }
  }
}

scope.onmessage = (e) => {
  queue = queue.then(() =>
    handle(e.data).catch((err: unknown) =>
      scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    ),
  );
};
