// Model files that check themselves: seeded mutations of a meta-trained model file and of a personal
// model file (a flipped byte in the header or the tensors, a changed length field, truncation, bytes
// appended), each of which every reader must refuse with a message naming the file, never crash on
// and never accept.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { tf } from '../src/engine/tf.js';
import { initGenerator, psiSize } from '../src/models/networks.js';
import { loadPersonalModel, savePersonalModel, disposePersonal } from '../src/models/personal.js';
import { preset } from '../src/models/presets.js';
import { initMetaParams } from '../src/train/meta_step.js';
import { resolveMetaConfig } from '../src/train/meta.js';
import { disposeModel, loadMetaModel, saveModelFile, type MetaModel } from '../src/train/model.js';
import { tempDir } from './helpers/tmp.js';

const tmp = tempDir();

before(async () => {
  await initEngine({});
});

/** One mutation of a file's bytes, chosen by `rng`: what it did, and the new bytes. */
function mutate(bytes: Uint8Array, rng: Rng): [string, Uint8Array] {
  const hlen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const out = Uint8Array.from(bytes);
  switch (rng.int(6)) {
    case 0: {
      const at = 8 + rng.int(hlen);
      out[at] = out[at]! ^ (1 + rng.int(255));
      return [`header byte ${at} flipped`, out];
    }
    case 1: {
      const at = 8 + hlen + rng.int(bytes.length - 8 - hlen);
      out[at] = out[at]! ^ (1 << rng.int(8));
      return [`tensor byte ${at}, one bit flipped`, out];
    }
    case 2: {
      const d = [-8, -1, 1, 8, 1000, 2 ** 40][rng.int(6)]!;
      new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, hlen + d)), true);
      return [`header length ${hlen} -> ${hlen + d}`, out];
    }
    case 3: {
      const n = 1 + rng.int(bytes.length - 1);
      return [`truncated to ${n} bytes`, out.subarray(0, n)];
    }
    case 4: {
      const extra = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
      const both = new Uint8Array(out.length + extra.length);
      both.set(out);
      both.set(extra, out.length);
      return [`${extra.length} bytes appended`, both];
    }
    default: {
      // a digit of the header changed to another digit: still valid JSON, another number
      const text = new TextDecoder().decode(out.subarray(8, 8 + hlen));
      const digits = [...text.matchAll(/\d/g)].map((m) => m.index);
      const at = 8 + digits[rng.int(digits.length)]!;
      out[at] = 48 + ((out[at]! - 48 + 1 + rng.int(9)) % 10);
      return [`header digit at ${at} changed (${text.slice(at - 8 - 20, at - 8 + 20)})`, out];
    }
  }
}

/** Every mutation refused with a message that names the file; returns the refusals by kind. */
function fuzz(original: Uint8Array, n: number, seed: number, load: (file: string) => () => void): void {
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) {
    const [what, bytes] = mutate(original, rng);
    const file = join(tmp, `fuzz-${seed}-${i}.safetensors`);
    writeFileSync(file, bytes);
    let refused: unknown = null;
    try {
      load(file)();
    } catch (e) {
      refused = e;
    }
    assert.ok(refused, `${what}: accepted`);
    assert.ok(refused instanceof Error, `${what}: threw a non-error`);
    assert.ok(!(refused instanceof TypeError), `${what}: crashed (${refused.message})`);
    assert.ok(refused.message.includes(file), `${what}: the message names the file: ${refused.message}`);
  }
}

test('100 mutations of a meta-trained model file: each refused with a message naming it', () => {
  const config = resolveMetaConfig(undefined, { data: 'unused', preset: 'tiny', k: 2, holdout: 0 });
  const { params, sn } = initMetaParams(preset('tiny'), 3, 5);
  const m: MetaModel = { source: '', hash: '', step: 3, columns: 3, config, net: preset('tiny'), params, sn };
  const file = join(tmp, 'meta.safetensors');
  saveModelFile(m, file, 'f16');
  disposeModel(m);
  const ok = loadMetaModel(file);
  disposeModel(ok);
  const before = tf.memory().numTensors;
  fuzz(readFileSync(file), 100, 1, (f) => () => disposeModel(loadMetaModel(f)));
  assert.equal(tf.memory().numTensors, before, 'a refused file leaves no tensors behind');
});

test('40 mutations of a personal model file: each refused with a message naming it', () => {
  const net = preset('tiny');
  const G = initGenerator(net, new Rng(2));
  delete (G as Record<string, unknown>)['proj'];
  const psi = tf.randomNormal([1, psiSize(net)]) as tf.Tensor2D;
  const file = join(tmp, 'person.safetensors');
  savePersonalModel(file, {
    net,
    info: {
      preset: 'tiny',
      mode: 'feed-forward',
      sourceModel: 'x'.repeat(64),
      source: 'test',
      steps: 0,
      created: '2026-12-04T00:00:00Z',
    },
    G,
    psi,
    landmarks: new Float32Array(136).fill(10),
    frames: 1,
  });
  disposePersonal(loadPersonalModel(file));
  fuzz(readFileSync(file), 40, 2, (f) => () => disposePersonal(loadPersonalModel(f)));
  tf.dispose([psi, ...Object.values(G).flatMap((v) => (v instanceof tf.Tensor ? [v] : []))]);
});
