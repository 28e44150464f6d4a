/**
 * Several datasets read as one for meta-learning (issue 21): real people from a few photos each,
 * real clips and procedural heads side by side, each dataset drawn with its own weight. Video i of
 * the mix is video i - offset of its part; every training video across the parts gets its own
 * column of D's W. With one dataset the mix is that dataset, read exactly as before.
 */
import { createHash } from 'node:crypto';
import {
  Dataset,
  DatasetError,
  heldOutIdentities,
  manifestHash,
  type VideoEntry,
  type VideoSource,
} from './dataset.js';
import { splitByIdentity, type Split } from './episodes.js';

export class DataMix implements VideoSource {
  readonly parts: Dataset[];
  /** sampling weight per part, normalised to sum 1 */
  readonly weights: number[];
  readonly resolution: number;
  readonly videos: readonly VideoEntry[];
  private readonly offsets: number[];

  /** Opens `dirs` with their weights (default: equal); errors name the dataset at fault. */
  constructor(dirs: readonly string[], weights?: readonly number[]) {
    if (dirs.length === 0) throw new DatasetError('No dataset given (--data DIR, once per dataset)');
    if (weights && weights.length !== dirs.length)
      throw new DatasetError(
        `--mix has ${weights.length} weight(s) for ${dirs.length} dataset(s) (${dirs.join(', ')}): give one weight per --data`,
      );
    const w = weights ?? dirs.map(() => 1);
    if (w.some((x) => !Number.isFinite(x) || x < 0) || w.every((x) => x === 0))
      throw new DatasetError(`--mix weights must be >= 0 and not all 0, got ${w.join(',')}`);
    const total = w.reduce((a, b) => a + b, 0);
    this.weights = w.map((x) => x / total);
    this.parts = dirs.map((d, k) => {
      try {
        return Dataset.open(d);
      } catch (e) {
        throw new DatasetError(
          dirs.length > 1 ? `Dataset ${k + 1} of the mix: ${(e as Error).message}` : (e as Error).message,
        );
      }
    });
    this.resolution = this.parts[0]!.resolution;
    const other = this.parts.findIndex((p) => p.resolution !== this.resolution);
    if (other >= 0)
      throw new DatasetError(
        `Dataset "${dirs[other]}" is ${this.parts[other]!.resolution}px but "${dirs[0]}" is ${this.resolution}px: every dataset of a mix has one resolution`,
      );
    this.offsets = [];
    const videos: VideoEntry[] = [];
    for (const [k, p] of this.parts.entries()) {
      this.offsets.push(videos.length);
      // identities are per dataset: "001" of one set is not "001" of another
      for (const v of p.videos)
        videos.push(this.parts.length > 1 ? { ...v, identity: `${k}:${v.identity}` } : v);
    }
    this.videos = videos;
  }

  get dir(): string {
    return this.parts.map((p) => p.dir).join('+');
  }

  get numVideos(): number {
    return this.videos.length;
  }

  /** The part of video i and its index there. */
  locate(i: number): { part: number; local: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.numVideos)
      throw new DatasetError(`Data mix: no video ${i} (it has ${this.numVideos})`);
    let k = this.offsets.length - 1;
    while (this.offsets[k]! > i) k--;
    return { part: k, local: i - this.offsets[k]! };
  }

  video(i: number): VideoEntry {
    this.locate(i);
    return this.videos[i]!;
  }

  readFrames(i: number, start: number, count = 1, out?: Uint8Array): Uint8Array {
    const { part, local } = this.locate(i);
    return this.parts[part]!.readFrames(local, start, count, out);
  }

  frameLandmarks(i: number, frame: number): Float32Array {
    const { part, local } = this.locate(i);
    return this.parts[part]!.frameLandmarks(local, frame);
  }

  landmarks(i: number): Float32Array {
    const { part, local } = this.locate(i);
    return this.parts[part]!.landmarks(local);
  }

  /** Identifies the data: the manifests' hashes (one dataset: its manifest hash, as before) and the weights. */
  hash(): string {
    if (this.parts.length === 1) return manifestHash(this.parts[0]!.dir);
    const h = createHash('sha256');
    for (const [k, p] of this.parts.entries()) h.update(`${manifestHash(p.dir)} ${this.weights[k]}\n`);
    return h.digest('hex');
  }

  /**
   * Train/test split: a dataset that records its held-out people (preprocess --hold-out) holds out
   * exactly those; one that does not (procedural data) holds out `fraction` of its identities.
   */
  split(fraction: number, seed: number): Split {
    const out: Split = { train: [], test: [] };
    for (const [k, p] of this.parts.entries()) {
      const recorded = heldOutIdentities(p.manifest);
      let s: Split;
      if (recorded) {
        const held = new Set(recorded);
        s = { train: [], test: [] };
        p.videos.forEach((v, i) => (held.has(v.identity) ? s.test : s.train).push(i));
      } else s = splitByIdentity(p, fraction, seed);
      out.train.push(...s.train.map((i) => i + this.offsets[k]!));
      out.test.push(...s.test.map((i) => i + this.offsets[k]!));
    }
    return out;
  }

  /**
   * Sampling weight per video of `pool`: a part's weight shared equally by its pooled videos, so
   * each dataset is drawn as often as its weight says, whatever its size. Null for one dataset
   * (uniform over videos, as before).
   */
  poolWeights(pool: readonly number[]): number[] | null {
    if (this.parts.length === 1) return null;
    const count = this.parts.map(() => 0);
    for (const v of pool) count[this.locate(v).part]!++;
    return pool.map((v) => {
      const k = this.locate(v).part;
      return this.weights[k]! / count[k]!;
    });
  }
}
