import { writeSyntheticDataset } from '../../src/synthetic/write.js';

/** The tiny procedural dataset the training tests share: 6 identities x 2 videos x 8 frames, 32 px. */
export function writeTinyDataset(out: string): Promise<unknown> {
  return writeSyntheticDataset({
    out,
    identities: 6,
    sequences: 2,
    frames: 8,
    size: 32,
    seed: 3,
    frameStep: 3,
    firstIdentity: 0,
    workers: 1,
  });
}
