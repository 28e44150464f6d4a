import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { decodeFrames } from '../media/video.js';
import { initEngine } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { FaceIdNet } from './faceid.js';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('@vladmandic/face-api/package.json'));

before(async () => {
  await initEngine({ backend: 'wasm' });
});

test("our face-recognition ResNet reproduces face-api's descriptors, and passes gradients", async () => {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
    nets: {
      faceRecognitionNet: {
        loadFromDisk(d: string): Promise<void>;
        computeFaceDescriptor(t: tf.Tensor3D): Promise<Float32Array>;
      };
    };
  };
  await faceapi.nets.faceRecognitionNet.loadFromDisk(join(root, 'model'));
  const net = FaceIdNet.load();
  assert.ok(net.numParams > 5e6);
  let n = 0;
  for (const photo of ['sample1.jpg', 'sample4.jpg']) {
    for await (const fr of decodeFrames(join(root, 'demo', photo), { maxSize: 300 })) {
      // a 150x150 window from the middle of the photo, as uint8 and as [-1, 1]
      const x0 = Math.floor((fr.width - 150) / 2);
      const y0 = Math.floor((fr.height - 150) / 2);
      const img = tf.tidy(() =>
        tf.slice(tf.tensor3d(fr.rgb, [fr.height, fr.width, 3], 'int32'), [y0, x0, 0], [150, 150, 3]),
      ) as tf.Tensor3D;
      const ref = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(img);
      const x = tf.tidy(() =>
        tf.sub(tf.div(tf.cast(tf.expandDims(img, 0), 'float32'), 127.5), 1),
      ) as tf.Tensor4D;
      const ours = tf.tidy(() => net.forward(x).descriptor);
      const d = ours.dataSync();
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < 128; i++) {
        dot += d[i]! * ref[i]!;
        na += d[i]! ** 2;
        nb += ref[i]! ** 2;
      }
      assert.ok(dot / Math.sqrt(na * nb) > 0.9999, `${photo}: cosine ${dot / Math.sqrt(na * nb)}`);
      const g = tf.grad((t: tf.Tensor) => tf.sum(net.forward(t as tf.Tensor4D).features[2]!))(x);
      assert.ok(
        g.dataSync().some((v) => v !== 0),
        'gradients reach the input',
      );
      tf.dispose([img, x, ours, g]);
      n++;
    }
  }
  assert.equal(n, 2);
  net.dispose();
});
