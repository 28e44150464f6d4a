/**
 * Embedder E, generator G (with the projection P) and projection discriminator D of Zakharov et al.
 * 2019, sec. 3.1 and 3.4, as init/forward pairs over parameter trees.
 *
 *   E(x, y) -> e [B, N]                      frames + landmark images, K per video, averaged outside
 *   G(y, psi) -> x_hat [B, R, R, 3] in (-1, 1) psi = P e_hat: every AdaIN's means and scales
 *   G(y, psi, w) with `sourceWarp`: also sees w, the person's frame warped to y's landmarks, and
 *      returns m * w + (1 - m) * x_hat with its own mask m (docs/design.md sec. 3.5)
 *   D(x, y, i) -> r [B] and the features after each residual block (for feature matching)
 *      r = V(x, y)^T (W_i + w0) + b            no sigmoid (a known pitfall)
 */
import { Rng } from '../engine/rng.js';
import { assertShape } from '../engine/shape.js';
import { tf } from '../engine/tf.js';
import {
  adainRelu,
  adainSlots,
  attention,
  initAttention,
  initResAdain,
  initResDown,
  initResSame,
  initSpectral,
  psiLayout,
  resAdain,
  resDown,
  resSame,
  sumPoolRelu,
  type AdainSlot,
  type BlockOpts,
} from './blocks.js';
import { avgPool2, conv2d, initConv, type Tensor4 } from '../nn/layers.js';
import { leaf, mapTree, type ParamTree, subtree } from '../nn/params.js';
import { embedResolution, type NetConfig } from './presets.js';

// ---------------------------------------------------------------- down path (E and D)

/**
 * The down path E and D share (V is "embedder-like", sec. 3.4): residual down-blocks from the
 * 6-channel (frame, landmark image) input to 4x4, with attention after one of them. Adds its
 * blocks to `p` and returns the output channels.
 */
function initDownPath(c: NetConfig, rng: Rng, p: Record<string, ParamTree>): number {
  let ci = 6;
  c.downChannels.forEach((co, i) => {
    p[`down${i}`] = initResDown(rng, ci, co);
    if (i === c.downAttention) p['attn'] = initAttention(rng, co);
    ci = co;
  });
  return ci;
}

/** x, y [B, R, R, 3] -> [B, 4, 4, C]; pushes the activation after each block to `features`. */
function downPath(
  p: ParamTree,
  c: NetConfig,
  x: Tensor4,
  y: Tensor4,
  what: string,
  o: BlockOpts,
  features?: Tensor4[],
): Tensor4 {
  const dims = {};
  assertShape(x, ['B', c.resolution, c.resolution, 3], `${what} frames`, dims);
  assertShape(y, ['B', c.resolution, c.resolution, 3], `${what} landmark images`, dims);
  let h = tf.concat([x, y], 3) as Tensor4;
  // E and D at a lower resolution than G (`embedResolution`): the pair pooled down to it
  for (let r = c.resolution; r > embedResolution(c); r /= 2) h = avgPool2(h);
  c.downChannels.forEach((_, i) => {
    h = block(() => resDown(subtree(p, `down${i}`), h, i === 0, o));
    if (i === c.downAttention) h = block(() => attention(subtree(p, 'attn'), h, o.flops));
    features?.push(h);
  });
  return h;
}

/**
 * One block in its own tidy: what the block made and the tape did not keep for the backward pass
 * (e.g. an instance norm's output, which the ReLU after it no longer saves) is freed when the block
 * ends, not when the whole forward pass does (issue 25: training memory; the same ops and bits).
 */
function block(f: () => Tensor4): Tensor4 {
  return tf.tidy(f);
}

// ---------------------------------------------------------------- embedder

export function initEmbedder(c: NetConfig, rng: Rng): ParamTree {
  const p: Record<string, ParamTree> = {};
  const ci = initDownPath(c, rng, p);
  if (ci !== c.embedding) p['out'] = initConv(rng, 1, ci, c.embedding);
  return p;
}

/** x, y [B, R, R, 3] -> e [B, N] (sum pooling + ReLU, sec. 3.4). */
export function embedder(p: ParamTree, c: NetConfig, x: Tensor4, y: Tensor4, o: BlockOpts = {}): tf.Tensor2D {
  let h = downPath(p, c, x, y, 'embedder', o);
  if (p['out']) h = conv2d(subtree(p, 'out'), h, o);
  return sumPoolRelu(h);
}

// ---------------------------------------------------------------- generator

/** The AdaIN layers of G in order; psi holds [mean | scale] for each. */
export function generatorSlots(c: NetConfig): AdainSlot[] {
  const bottleneck = c.encoderChannels[c.encoderChannels.length - 1]!;
  const slots: AdainSlot[] = [];
  for (let i = 0; i < c.resBlocks; i++) slots.push(...adainSlots(`res${i}`, bottleneck, bottleneck));
  let ci = bottleneck;
  c.decoderChannels.forEach((co, i) => {
    slots.push(...adainSlots(`up${i}`, ci, co));
    ci = co;
  });
  slots.push({ name: 'out', channels: ci });
  return slots;
}

export function psiSize(c: NetConfig): number {
  return psiLayout(generatorSlots(c)).size;
}

/** Input channels of G: the landmark image, and the source warp when the network has one. */
const generatorInputs = (c: NetConfig) => (c.sourceWarp ? 6 : 3);
/** Output channels of G's last conv: RGB, and the blending mask's logit with a source warp. */
const generatorOutputs = (c: NetConfig) => (c.sourceWarp ? 4 : 3);
/** Input channels of G's last conv: the last up-block's, and the warp's pixels with skips. */
const generatorLastInputs = (c: NetConfig) =>
  c.decoderChannels[c.decoderChannels.length - 1]! + (c.skips ? 3 : 0);

/**
 * With `skips`, up-block i (output at twice the resolution of the block before it) takes the output
 * of the encoder block at the same resolution: encoder block `encoderChannels.length - 2 - i`. The
 * last up-block (full resolution) has none; the warp's pixels reach it through the last conv.
 */
function skipSources(c: NetConfig): { up: number; enc: number }[] {
  if (!c.skips) return [];
  const n = c.encoderChannels.length;
  return c.decoderChannels.slice(0, n - 1).map((_, up) => ({ up, enc: n - 2 - up }));
}

/**
 * G's decoder, by parameter name: the up-blocks, the attention among them, the skips into them and
 * the output convolution: what draws the frame from the residual blocks' features. Not in it: the
 * encoder that reads the landmark image (and the source warp), the residual blocks, P.
 */
export function decoderParts(c: NetConfig): string[] {
  return [
    ...c.decoderChannels.map((_, i) => `up${i}`),
    ...(c.decoderAttention < c.decoderChannels.length ? ['decAttn'] : []),
    ...skipSources(c).map(({ up }) => `skip${up}`),
    'out',
  ];
}

/** A skip: gamma [co] (from 0, so a new skip changes nothing at first) * conv1x1(encoder features). */
function initSkip(c: NetConfig, rng: Rng, up: number, enc: number): ParamTree {
  return {
    ...initConv(rng, 1, c.encoderChannels[enc]!, c.decoderChannels[up]!),
    gamma: tf.zeros([c.decoderChannels[up]!]),
  };
}

export function initGenerator(c: NetConfig, rng: Rng): ParamTree {
  const p: Record<string, ParamTree> = {};
  let ci = generatorInputs(c);
  c.encoderChannels.forEach((co, i) => {
    // the first down-block uses 9x9 convolutions (sec. 3.4)
    p[`enc${i}`] = initResDown(rng, ci, co, { k: i === 0 ? 9 : 3, norm: true });
    if (i === c.encoderAttention) p['encAttn'] = initAttention(rng, co);
    ci = co;
  });
  for (let i = 0; i < c.resBlocks; i++) p[`res${i}`] = initResAdain(rng, ci, ci);
  c.decoderChannels.forEach((co, i) => {
    p[`up${i}`] = initResAdain(rng, ci, co);
    if (i === c.decoderAttention) p['decAttn'] = initAttention(rng, co);
    ci = co;
  });
  for (const { up, enc } of skipSources(c)) p[`skip${up}`] = initSkip(c, rng, up, enc);
  p['out'] = initConv(rng, 3, generatorLastInputs(c), generatorOutputs(c));
  // P maps e to psi. Small init: AdaIN means start near 0 and scales near 1 (scale = 1 + psi).
  p['proj'] = {
    P: tf.tensor(rng.normalArray(c.embedding * psiSize(c), 0.02 / Math.sqrt(c.embedding)), [
      c.embedding,
      psiSize(c),
    ]),
  };
  return p;
}

/** psi = P e [B, |psi|]. */
export function projectPsi(p: ParamTree, e: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(e, leaf(subtree(p, 'proj'), 'P')) as tf.Tensor2D;
}

/**
 * y [B, R, R, 3], psi [B, |psi|] -> x_hat [B, R, R, 3] (tanh: images in [-1, 1]). A network with
 * `sourceWarp` needs `warped` [B, R, R, 3] too (data/source_warp.ts) and blends it in.
 */
export function generator(
  p: ParamTree,
  c: NetConfig,
  y: Tensor4,
  psi: tf.Tensor2D,
  o: BlockOpts = {},
  warped?: Tensor4,
  encoded?: readonly Tensor4[],
): Tensor4 {
  return generatorParts(p, c, y, psi, o, warped, encoded).x;
}

/** What G makes: the frame x, and with a source warp its two parts (x = m w + (1 - m) drawn). */
export interface GeneratorParts {
  x: Tensor4;
  /** [B, R, R, 3] G's own drawing, before the warp is blended in */
  drawn?: Tensor4;
  /** [B, R, R, 1] in (0, 1): the share of the warp */
  mask?: Tensor4;
}

/**
 * G's encoder: the landmark image (and the source warp) -> each down-block's output, at halving
 * resolutions (the last feeds the residual blocks, the others the skips). It does not read psi, so
 * with its weights held (fine-tuning the decoder) its outputs for the given frames are constants.
 */
export function generatorEncoder(
  p: ParamTree,
  c: NetConfig,
  y: Tensor4,
  o: BlockOpts = {},
  warped?: Tensor4,
): Tensor4[] {
  let h = c.sourceWarp ? (tf.concat([y, warped!], 3) as Tensor4) : y;
  const encoded: Tensor4[] = [];
  c.encoderChannels.forEach((_, i) => {
    h = block(() => resDown(subtree(p, `enc${i}`), h, i === 0, o));
    if (i === c.encoderAttention) h = block(() => attention(subtree(p, 'encAttn'), h, o.flops, o.inference));
    encoded.push(h);
  });
  return encoded;
}

/** G's encoder, by parameter name (what `generatorEncoder` reads). */
export function encoderParts(c: NetConfig): string[] {
  return [
    ...c.encoderChannels.map((_, i) => `enc${i}`),
    ...(c.encoderAttention < c.encoderChannels.length ? ['encAttn'] : []),
  ];
}

/**
 * generator(), with the drawn image and the mask of a network with `sourceWarp`. `encoded`: the
 * encoder's outputs for these frames, computed before (`generatorEncoder`); G's encoder weights are
 * then not read.
 */
export function generatorParts(
  p: ParamTree,
  c: NetConfig,
  y: Tensor4,
  psi: tf.Tensor2D,
  o: BlockOpts = {},
  warped?: Tensor4,
  encoded?: readonly Tensor4[],
): GeneratorParts {
  const dims = {};
  assertShape(y, ['B', c.resolution, c.resolution, 3], 'generator landmark images', dims);
  assertShape(psi, ['B', psiSize(c)], 'generator psi', dims);
  if (c.sourceWarp && !warped)
    throw new RangeError('generator: this network blends a source warp in; give the warped frames');
  if (warped) assertShape(warped, ['B', c.resolution, c.resolution, 3], 'generator source warps', dims);
  const features = encoded ?? generatorEncoder(p, c, y, o, warped);
  if (features.length !== c.encoderChannels.length)
    throw new RangeError(
      `generator: ${features.length} encoder outputs, the network has ${c.encoderChannels.length}`,
    );
  features.forEach((e, i) =>
    assertShape(e, ['B', null, null, c.encoderChannels[i]!], `generator encoder output ${i}`, dims),
  );
  const { offsets } = psiLayout(generatorSlots(c));
  let h = features[features.length - 1]!;
  const skips = new Map(skipSources(c).map((s) => [s.up, s.enc]));
  for (let i = 0; i < c.resBlocks; i++)
    h = block(() => resAdain(subtree(p, `res${i}`), h, psi, offsets, `res${i}`, null, o));
  c.decoderChannels.forEach((_, i) => {
    h = block(() => resAdain(subtree(p, `up${i}`), h, psi, offsets, `up${i}`, c.upsample, o));
    const enc = skips.get(i);
    if (enc !== undefined) {
      // the warp's features at this resolution, after AdaIN has set the block's statistics
      const sp = subtree(p, `skip${i}`);
      h = block(() => tf.add(h, tf.mul(leaf(sp, 'gamma'), conv2d(sp, features[enc]!, o))) as Tensor4);
    }
    if (i === c.decoderAttention) h = block(() => attention(subtree(p, 'decAttn'), h, o.flops, o.inference));
  });
  // final AdaIN -> act -> conv3x3 -> tanh (sec. 3.4), with its own psi slot; with skips the last
  // conv also reads the warp's pixels, whose colours AdaIN would otherwise have normalised away
  const last = adainRelu(h, psi, offsets.get('out')!, o.inference);
  const out = conv2d(subtree(p, 'out'), c.skips ? (tf.concat([last, warped!], 3) as Tensor4) : last, o);
  if (!c.sourceWarp) return { x: tf.tanh(out) };
  // x = m w + (1 - m) x_hat = x_hat + m (w - x_hat): the warp where it explains the target
  const [rgb, logit] = tf.split(out, [3, 1], 3) as [Tensor4, Tensor4];
  const drawn = tf.tanh(rgb);
  const mask = tf.sigmoid(logit);
  return { x: tf.add(drawn, tf.mul(mask, tf.sub(warped!, drawn))) as Tensor4, drawn, mask };
}

/** A conv weight [k, k, ci, co] with 3 more input channels at zero weight (an image's RGB). */
const extraIn = (w: tf.Tensor) => tf.concat([w, tf.zeros([...w.shape.slice(0, 2), 3, w.shape[3]!])], 2);

/**
 * A generator trained without a source warp, widened to take one (`--init` of a sourceWarp run
 * from such a model): the new input channels of the first block and the mask channel of the last
 * conv start at zero weight (mask 0.5), so G starts from what it knew; instance norm of the new
 * inputs starts as identity. `sn` (the power-iteration vectors, one entry per output channel) gets
 * a zero entry for the mask channel. Returns new trees (copies); the given ones are the caller's.
 */
export function widenForSourceWarp(G0: ParamTree, sn0: ParamTree): { G: ParamTree; sn: ParamTree } {
  const extraOut = (t: tf.Tensor) => tf.concat([t, tf.zeros([...t.shape.slice(0, -1), 1])], -1);
  return tf.tidy(() => {
    const G = mapTree(G0, (t) => tf.clone(t));
    const snG = mapTree(sn0, (t) => tf.clone(t));
    const enc0 = subtree(G, 'enc0');
    const norm1 = subtree(enc0, 'norm1');
    const out = subtree(G, 'out');
    const widened: ParamTree = {
      ...G,
      enc0: {
        ...enc0,
        conv1: { ...subtree(enc0, 'conv1'), weight: extraIn(leaf(subtree(enc0, 'conv1'), 'weight')) },
        skip: { ...subtree(enc0, 'skip'), weight: extraIn(leaf(subtree(enc0, 'skip'), 'weight')) },
        norm1: {
          gamma: tf.concat([leaf(norm1, 'gamma'), tf.ones([3])]),
          beta: tf.concat([leaf(norm1, 'beta'), tf.zeros([3])]),
        },
      },
      out: { weight: extraOut(leaf(out, 'weight')), bias: extraOut(leaf(out, 'bias')) },
    };
    const snOut = subtree(snG, 'out');
    const sn: ParamTree = { ...snG, out: { ...snOut, weight: extraOut(leaf(snOut, 'weight')) } };
    return { G: widened, sn };
  });
}

/**
 * A source-warp generator without skips given them (`--init` of a `skips` run from such a model):
 * the skips' gamma and the last conv's new warp inputs start at zero, so G makes the same frames it
 * made and learns to use the skips from there. New spectral-norm vectors for the skips' convs come
 * from `rng`. Returns new trees (copies); the given ones are the caller's.
 */
export function widenForSkips(
  G0: ParamTree,
  sn0: ParamTree,
  c: NetConfig,
  rng: Rng,
): { G: ParamTree; sn: ParamTree } {
  if (!c.skips) throw new RangeError('widenForSkips: the target network has no skips');
  return tf.tidy(() => {
    const G = mapTree(G0, (t) => tf.clone(t)) as Record<string, ParamTree>;
    const sn = mapTree(sn0, (t) => tf.clone(t)) as Record<string, ParamTree>;
    for (const { up, enc } of skipSources(c)) {
      G[`skip${up}`] = initSkip(c, rng, up, enc);
      sn[`skip${up}`] = subtree(initSpectral({ w: G[`skip${up}`]! }, rng), 'w');
    }
    const out = subtree(G, 'out');
    G['out'] = { ...out, weight: extraIn(leaf(out, 'weight')) };
    return { G, sn };
  });
}

// ---------------------------------------------------------------- discriminator

export function initDiscriminator(c: NetConfig, numVideos: number, rng: Rng): ParamTree {
  const p: Record<string, ParamTree> = {};
  const ci = initDownPath(c, rng, p);
  p['last'] = initResSame(rng, ci);
  if (ci !== c.embedding) p['out'] = initConv(rng, 1, ci, c.embedding);
  p['proj'] = {
    // one column per training video (sec. 3.2); w0 shared; b a scalar
    W: tf.tensor(rng.normalArray(c.embedding * Math.max(1, numVideos), 0.02), [
      c.embedding,
      Math.max(1, numVideos),
    ]),
    w0: tf.tensor(rng.normalArray(c.embedding, 0.02), [c.embedding]),
    b: tf.zeros([1]),
  };
  return p;
}

export interface DiscOut {
  /** realism score r [B] */
  score: tf.Tensor1D;
  /** activations after each residual block (for L_FM) */
  features: Tensor4[];
  /** V(x, y) [B, N] */
  v: tf.Tensor2D;
}

/**
 * W's columns for the given videos, transposed: [B, N]. Written as one-hot(video) W^T, whose gradient
 * is a small matmul (a gather's gradient is a scatter, slow on the JavaScript fallbacks).
 */
export function videoColumns(p: ParamTree, video: tf.Tensor1D): tf.Tensor2D {
  const w = leaf(subtree(p, 'proj'), 'W') as tf.Tensor2D; // [N, V]
  // tf.oneHot needs depth >= 2; with one training video every episode uses column 0
  if (w.shape[1] === 1) return tf.tile(tf.transpose(w), [video.shape[0], 1]) as tf.Tensor2D;
  const hot = tf.cast(tf.oneHot(video, w.shape[1]), 'float32') as tf.Tensor2D; // [B, V]
  return tf.matMul(hot, w, false, true);
}

/**
 * D(x, y, i). With `columns` the per-video vectors are given directly: fine-tuning replaces
 * W_i + w0 by w' (sec. 3.3), and a video index is not needed.
 */
export function discriminator(
  p: ParamTree,
  c: NetConfig,
  x: Tensor4,
  y: Tensor4,
  video: tf.Tensor1D | null,
  o: BlockOpts & { columns?: tf.Tensor2D } = {},
): DiscOut {
  const features: Tensor4[] = [];
  let h = downPath(p, c, x, y, 'discriminator', o, features);
  h = block(() => resSame(subtree(p, 'last'), h, o));
  features.push(h);
  if (p['out']) h = conv2d(subtree(p, 'out'), h, o);
  const v = sumPoolRelu(h);
  const proj = subtree(p, 'proj');
  let w: tf.Tensor2D;
  if (o.columns) w = o.columns;
  else if (video) w = tf.add(videoColumns(p, video), leaf(proj, 'w0')) as tf.Tensor2D;
  else throw new RangeError('discriminator: give a video index or the projection columns');
  const score = tf.add(tf.sum(tf.mul(v, w), 1), leaf(proj, 'b')) as tf.Tensor1D;
  return { score, features, v };
}
