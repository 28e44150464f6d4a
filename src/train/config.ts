/**
 * A meta-learning run's configuration (docs/design.md sec. 5) and the network it describes: plain data,
 * shared by training, the model files that carry it, and the browser app that reads those files.
 */
import { z } from 'zod';
import { checkNetConfig, NetConfigSchema, preset } from '../models/presets.js';
import { PAPER_WEIGHTS } from './losses.js';
import { PAPER_OPTIM } from './meta_step.js';

export const MetaConfigSchema = z
  .object({
    /** a dataset folder, or several read as one (data/mix.ts), each with its own W columns */
    data: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** sampling weight per dataset of `data` (normalised); absent: equal weights */
    mix: z.array(z.number().min(0)).min(1).optional(),
    /** augmentations of episodes (data/episodes.ts AugmentConfig); all 0 = none */
    augment: z
      .object({
        flip: z.number().min(0).max(1).default(0),
        jitter: z.number().min(0).max(2).default(0),
        colour: z.number().min(0).max(2).default(0),
        warp: z.number().min(0).max(1).default(0),
      })
      .strict()
      // data/episodes.ts NO_AUGMENT (not imported: this file stays free of tensors for the browser)
      .default({ flip: 0, jitter: 0, colour: 0, warp: 0 }),
    preset: z.string().default('small'),
    /** overrides of the preset's network config */
    net: NetConfigSchema.partial().default({}),
    variant: z.enum(['ft', 'ff']).default('ft'),
    k: z.number().int().min(1).default(8),
    batch: z.number().int().min(1).default(2),
    steps: z.number().int().min(1).default(1000),
    seed: z.number().int().min(0).default(0),
    /** fraction of identities held out for few-shot evaluation (never trained on) */
    holdout: z.number().min(0).max(0.9).default(0.1),
    /**
     * bf16: the convolutions oneDNN runs directly take bf16 operands in all three passes (f32 sums,
     * gradients and master weights) on CPUs with AVX-512 BF16 (engine/precision.ts); elsewhere a
     * message and float32.
     */
    precision: z.enum(['f32', 'bf16']).default('f32'),
    lrEG: z.number().positive().default(PAPER_OPTIM.lrEG),
    lrD: z.number().positive().default(PAPER_OPTIM.lrD),
    beta1: z.number().min(0).max(1).default(PAPER_OPTIM.beta1),
    beta2: z.number().min(0).max(1).default(PAPER_OPTIM.beta2),
    dSteps: z.number().int().min(1).default(PAPER_OPTIM.dSteps),
    /**
     * Content-first warm-up (not in the paper): the weights of L_ADV (adv, fm) and L_MCH are 0 for
     * the first `advWarmup` steps and ramp linearly to full over the next `advWarmup`. 0 = the
     * paper's schedule. Short CPU runs need it: from step 1 the realism and feature-matching
     * gradients swamp pixel L1, and L_MCH pulls every embedding towards D's random columns until
     * E's ReLU dies (docs/meta-learning-cpu.md).
     */
    advWarmup: z.number().int().min(0).default(0),
    weights: z
      .object({
        pixel: z.number().min(0).default(PAPER_WEIGHTS.pixel),
        identity: z.number().min(0).default(PAPER_WEIGHTS.identity),
        perceptual: z.number().min(0).default(PAPER_WEIGHTS.perceptual),
        adv: z.number().min(0).default(PAPER_WEIGHTS.adv),
        fm: z.number().min(0).default(PAPER_WEIGHTS.fm),
        mch: z.number().min(0).default(PAPER_WEIGHTS.mch),
        mouth: z.number().min(0).default(PAPER_WEIGHTS.mouth),
        drawn: z.number().min(0).default(PAPER_WEIGHTS.drawn),
        drawnArea: z.number().min(0).default(PAPER_WEIGHTS.drawnArea),
        anchor: z.number().min(0).default(PAPER_WEIGHTS.anchor),
      })
      .default(PAPER_WEIGHTS),
    /** user-supplied safetensors weights of the paper's content networks (torchvision names) */
    vgg19: z.string().optional(),
    vggface: z.string().optional(),
    /**
     * Start from a meta-trained model's weights (a shipped model's name, a model file, a run or a
     * checkpoint) instead of random ones, with a fresh optimizer: how training continues across
     * machines from the shipped model, whose file holds no optimizer state. Same preset; on other
     * data (other training videos) D's W gets new columns (meta.ts, initColumns).
     */
    init: z.string().optional(),
    out: z.string().default('runs'),
    backend: z.string().optional(),
    threads: z.number().int().positive().optional(),
    logEvery: z.number().int().min(1).default(10),
    sampleEvery: z.number().int().min(1).default(200),
    checkpointEvery: z.number().int().min(1).default(500),
    keepCheckpoints: z.number().int().min(1).default(3),
  })
  .strict();
export type MetaConfig = z.infer<typeof MetaConfigSchema>;

export function netConfigOf(c: MetaConfig) {
  return checkNetConfig({ ...preset(c.preset), ...c.net });
}

/** The dataset folders of a config, as a list. */
export function dataDirs(c: Pick<MetaConfig, 'data'>): string[] {
  return typeof c.data === 'string' ? [c.data] : c.data;
}

/** The one dataset of a config (scripts that read one); a mix is refused by name. */
export function singleDataset(c: Pick<MetaConfig, 'data'>): string {
  const dirs = dataDirs(c);
  if (dirs.length > 1)
    throw new RangeError(
      `This reads one dataset; the model was trained on a mix (${dirs.join(', ')}): pass --data`,
    );
  return dirs[0]!;
}
