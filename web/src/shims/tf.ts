/**
 * The browser's twin of src/engine/tf.ts (the web build substitutes it): the same single TF.js, with
 * its gradients registered from tfjs-core's own ESM (Node needs the pre-bundled copy in vendor/).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
// tensor.as3D() and the other chained methods, which face-api calls (Node's CJS build includes them)
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

tf.env().set('PROD', true);

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable } from '@tensorflow/tfjs-core';
