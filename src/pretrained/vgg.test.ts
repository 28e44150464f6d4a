import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { tempDir } from '../../test/helpers/tmp.js';
import { initEngine } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { LAYOUTS, Vgg } from './vgg.js';

before(async () => {
  await initEngine({ backend: 'cpu' });
});

/** A VGG weights file with torchvision's names and random values. */
function randomVgg(path: string, layout: readonly (number | 'M')[], skip?: string): void {
  const rng = new Rng(1);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let index = 0;
  let cin = 3;
  for (const item of layout) {
    if (item === 'M') {
      index++;
      continue;
    }
    const w = `features.${index}.weight`;
    if (w !== skip)
      tensors.set(w, {
        shape: [item, cin, 3, 3],
        data: rng.normalArray(item * cin * 9, Math.sqrt(2 / (9 * cin))),
      });
    tensors.set(`features.${index}.bias`, { shape: [item], data: new Float32Array(item) });
    index += 2;
    cin = item;
  }
  writeFileSync(path, encodeSafetensors(tensors));
}

const VGG19 = LAYOUTS.vgg19;

test('VGG19 from a user safetensors file: the paper layers, shapes, gradients; clear errors', () => {
  const dir = tempDir();
  randomVgg(join(dir, 'vgg19.safetensors'), VGG19);
  const vgg = Vgg.fromSafetensors('vgg19', join(dir, 'vgg19.safetensors'));
  tf.tidy(() => {
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1) as tf.Tensor4D;
    const f = vgg.features(x);
    assert.deepEqual(
      f.map((t) => t.shape),
      [
        [1, 32, 32, 64],
        [1, 16, 16, 128],
        [1, 8, 8, 256],
        [1, 4, 4, 512],
        [1, 2, 2, 512],
      ],
    );
    const g = tf.grad((t: tf.Tensor) => tf.sum(vgg.features(t as tf.Tensor4D)[4]!))(x);
    assert.ok(g.dataSync().some((v) => v !== 0));
  });
  vgg.dispose();
  randomVgg(join(dir, 'broken.safetensors'), VGG19, 'features.21.weight');
  assert.throws(
    () => Vgg.fromSafetensors('vgg19', join(dir, 'broken.safetensors')),
    /missing tensor "features\.21\.weight"/,
  );
  assert.throws(
    () => Vgg.fromSafetensors('vggface', join(dir, 'vgg19.safetensors')),
    /Cannot load vggface .*(missing tensor|has shape)/,
  );
});
