/**
 * The one place that loads TensorFlow.js. Everything else imports `tf` from here, so gradients and
 * backends are always registered before the first op runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// Gradient configs: see scripts/bundle-gradients.mjs for why they are bundled at build time.
// This file sits at src/engine/ (tsx) or dist/engine/ (compiled): both are two levels below the root.
const gradients = fileURLToPath(new URL('../../vendor/tfjs-gradients.cjs', import.meta.url));
if (!existsSync(gradients)) {
  throw new Error(
    `Cannot load TF.js gradients: "${gradients}" is missing. Run "npm run build" (npm ci runs it) to generate it.`,
  );
}
require(gradients);

// ReLU's gradient from its output instead of its input (issue 25: training memory). relu(x) > 0
// exactly where x > 0, so the mask and the gradient are the same bits; what changes is what the tape
// keeps: the output is kept anyway by the layer that reads it (a convolution saves its input), while
// the input (an instance norm's or a convolution's output) could be freed. TF.js's own saves x.
tf.registerGradient({
  kernelName: 'Relu',
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved as [tf.Tensor];
    return { x: () => tf.mul(dy as tf.Tensor, tf.cast(tf.step(y), 'float32')) };
  },
});

// Silence tfjs-backend-cpu's "install tfjs-node" banner; PROD also skips debug-only checks.
tf.env().set('PROD', true);

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable } from '@tensorflow/tfjs-core';
