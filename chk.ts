import { initEngine } from './src/engine/backend.js';
import { tf } from './src/engine/tf.js';
for (const be of ['cpu', 'native']) {
  await initEngine({ backend: be });
  const x = tf.tensor([1, 5, 3, 2, 4, 6], [2, 3]);
  const y = tf.max(x, 0);
  const g = tf.grad((a: tf.Tensor) => tf.sum(tf.max(a, 0)))(x);
  const eq = tf.equal(x, tf.reshape(y, [1, 3]));
  const c = tf.cast(eq, 'float32');
  console.log(be, [...y.dataSync()], [...g.dataSync()], eq.dtype, [...eq.dataSync()], [...c.dataSync()], [...tf.mul(tf.ones([1,3]), c).dataSync()]);
}
