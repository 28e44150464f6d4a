// Experiment (issue 21): a source-warp model whose blend mask has saturated at 1 (the medium
// real-128px shipped until 2026-12-07 evening: its fine-tuning changes nothing, the mask's gradient
// is gone) with the mask channel of G's last convolution set back to zero weight and bias (mask 0.5
// everywhere, as when the warp was added), written as a model file for `meta-train --init`. G's
// drawing and everything else are kept.
//   git show d6214c6:models/real-128px.safetensors > /tmp/real-128px-warp.safetensors
//   npx tsx scripts/reset-mask.ts /tmp/real-128px-warp.safetensors /tmp/real-128px-mask0.safetensors
import { initEngine } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { leaf, type ParamTree } from '../src/nn/params.js';
import { loadMetaModel, resolveModel, saveModelFile } from '../src/train/model.js';

const [name, out] = process.argv.slice(2);
if (!name || !out) throw new Error('usage: npx tsx scripts/reset-mask.ts MODEL OUT.safetensors');
await initEngine({ backend: 'cpu' });
const m = loadMetaModel(resolveModel(name));
if (!m.net.sourceWarp) throw new Error(`${name} does not blend a source warp: it has no mask`);
const outConv = (m.params['G'] as ParamTree)['out'] as Record<string, tf.Tensor>;
const w = leaf(outConv, 'weight'); // [k, k, ci, 4]: RGB, then the mask's logit
const b = leaf(outConv, 'bias');
const keep = (t: tf.Tensor) => tf.mul(t, tf.tensor1d([1, 1, 1, 0]));
outConv['weight'] = keep(w);
outConv['bias'] = keep(b);
tf.dispose([w, b]);
saveModelFile(m, out);
console.log(`${out}: ${name} with its mask channel zeroed (mask 0.5)`);
