/**
 * A small residual encoder-decoder that uses every operation the talking-head networks train with:
 * convolutions (1x1, 3x3, 4x4 strided, 9x9), instance norm, average pooling, nearest and bilinear
 * upsampling, SAGAN attention (batched matmul + softmax), tanh. It is the engine's test and benchmark
 * workload: `doctor` and the tests train it on every backend, `npm run bench` times its step.
 */
import { Rng } from '../engine/rng.js';
import { assertShape } from '../engine/shape.js';
import { tf } from '../engine/tf.js';
import {
  attention,
  avgPool2,
  conv2d,
  initAttention,
  initConv,
  initInstanceNorm,
  instanceNorm,
  upsample2,
  type Flops,
  type Tensor4,
} from '../nn/layers.js';
import { leaf, type ParamTree, subtree } from '../nn/params.js';

export interface ProbeNetConfig {
  /** Base channel count; the bottleneck has 4x this. */
  channels: number;
  resolution: number;
}

export function initProbeNet(cfg: ProbeNetConfig, rng: Rng): ParamTree {
  const c = cfg.channels;
  return {
    stem: initConv(rng, 9, 3, c),
    down1: {
      conv: initConv(rng, 3, c, c),
      strided: initConv(rng, 4, c, 2 * c),
      skip: initConv(rng, 1, c, 2 * c),
    },
    down2: {
      norm1: initInstanceNorm(2 * c),
      conv1: initConv(rng, 3, 2 * c, 4 * c),
      norm2: initInstanceNorm(4 * c),
      conv2: initConv(rng, 3, 4 * c, 4 * c),
      skip: initConv(rng, 1, 2 * c, 4 * c),
    },
    attn: initAttention(rng, 4 * c, 0.1),
    up1: {
      norm: initInstanceNorm(4 * c),
      conv: initConv(rng, 3, 4 * c, 2 * c),
      skip: initConv(rng, 1, 4 * c, 2 * c),
    },
    up2: {
      norm: initInstanceNorm(2 * c),
      conv: initConv(rng, 3, 2 * c, c),
      skip: initConv(rng, 1, 2 * c, c),
    },
    out: initConv(rng, 3, c, 3),
  };
}

/** x [B,R,R,3] in [-1,1] -> [B,R,R,3] in (-1,1). R must be a multiple of 4. */
export function probeNet(p: ParamTree, x: Tensor4, flops?: Flops): Tensor4 {
  assertShape(x, [null, null, null, 3], 'probeNet input');
  if (x.shape[1] % 4 !== 0 || x.shape[2] % 4 !== 0) {
    throw new RangeError(
      `probeNet input: height and width must be multiples of 4, got ${x.shape[1]}x${x.shape[2]}`,
    );
  }
  const o = { flops };
  let h = conv2d(subtree(p, 'stem'), x, o); // [B,R,R,c]
  // down1: strided conv main path, average-pooled skip
  {
    const d = subtree(p, 'down1');
    const m = conv2d(subtree(d, 'strided'), tf.relu(conv2d(subtree(d, 'conv'), tf.relu(h), o)), {
      stride: 2,
      flops,
    });
    h = tf.add(m, conv2d(subtree(d, 'skip'), avgPool2(h), o)); // [B,R/2,R/2,2c]
  }
  // down2: instance-normed residual block with average pooling
  {
    const d = subtree(p, 'down2');
    const n1 = subtree(d, 'norm1');
    const n2 = subtree(d, 'norm2');
    let m = conv2d(subtree(d, 'conv1'), tf.relu(instanceNorm(h, leaf(n1, 'gamma'), leaf(n1, 'beta'))), o);
    m = conv2d(subtree(d, 'conv2'), tf.relu(instanceNorm(m, leaf(n2, 'gamma'), leaf(n2, 'beta'))), o);
    h = tf.add(avgPool2(m), avgPool2(conv2d(subtree(d, 'skip'), h, o))); // [B,R/4,R/4,4c]
  }
  h = attention(subtree(p, 'attn'), h, flops);
  for (const [name, mode] of [
    ['up1', 'nearest'],
    ['up2', 'bilinear'],
  ] as const) {
    const u = subtree(p, name);
    const n = subtree(u, 'norm');
    const m = conv2d(
      subtree(u, 'conv'),
      upsample2(tf.relu(instanceNorm(h, leaf(n, 'gamma'), leaf(n, 'beta'))), mode),
      o,
    );
    h = tf.add(m, conv2d(subtree(u, 'skip'), upsample2(h, mode), o));
  }
  return tf.tanh(conv2d(subtree(p, 'out'), tf.relu(h), o));
}

/** Forward FLOPs of one batch (a training step costs about 3x: forward, input and weight gradients). */
export function probeNetFlops(p: ParamTree, batch: number, resolution: number): number {
  const flops: Flops = { total: 0 };
  tf.tidy(() => {
    probeNet(p, tf.zeros([batch, resolution, resolution, 3]) as Tensor4, flops);
  });
  return flops.total;
}
