/**
 * Imported before anything else in a worker: TF.js's wasm backend reads its settings when it first
 * starts, which can be as early as the first import that touches the engine.
 *
 * One XNNPACK thread per worker: the page gets its parallelism from workers instead (one render
 * worker per core generates frames side by side). Measured in this machine's chromium (2 cores):
 * the generator at 64 px takes ~45 ms a frame on two threads but two single-threaded workers give a
 * frame every ~29 ms between them (its many small ops run on one thread either way), and the
 * engine worker's fine-tuning step is 1.63 s on two threads, 1.73 s on one, while a second thread
 * would take CPU from the render workers while the engine tracks the webcam.
 */
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

setWasmPaths('/tfjs/');
setThreadsCount(1);
