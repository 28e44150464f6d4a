import { writeSyntheticDataset } from './src/data/synthetic/write.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/ds1', { recursive: true, force: true });
const t0 = performance.now();
await writeSyntheticDataset({ out: '/tmp/ds1', identities: 100, sequences: 2, frames: 32, size: 128, seed: 0, frameStep: 1, firstIdentity: 0 }, (d, t) => { if (d % 50 === 0) console.log(d, t, ((performance.now() - t0) / 1000).toFixed(1)); });
console.log('total s', ((performance.now() - t0) / 1000).toFixed(1));
