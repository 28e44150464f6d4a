/**
 * Network sizes. `paper` is the architecture of Zakharov et al. 2019 sec. 3.4 at 256x256 (about
 * 15M / 38M / 20M parameters in E / G / D); the smaller presets keep the structure with fewer
 * channels and levels for CPU work and tests. Configs are validated once (zod) and typed after.
 */
import { z } from 'zod';

export const NetConfigSchema = z.object({
  resolution: z.number().int().min(16),
  /** embedder and discriminator: output channels of each down-block, from full resolution to 4x4 */
  downChannels: z.array(z.number().int().positive()).min(2),
  /** index of the down-block after which E and D attend (32x32 at 256px) */
  downAttention: z.number().int().nonnegative(),
  /** generator landmark encoder: down-blocks (the first with 9x9 convs), with instance norm */
  encoderChannels: z.array(z.number().int().positive()).min(1),
  encoderAttention: z.number().int().nonnegative(),
  /** residual AdaIN blocks at the bottleneck */
  resBlocks: z.number().int().nonnegative(),
  /** generator up-blocks with AdaIN, back to full resolution */
  decoderChannels: z.array(z.number().int().positive()).min(1),
  /** index of the up-block after which G attends (64x64 at 256px) */
  decoderAttention: z.number().int().nonnegative(),
  /** embedding size N */
  embedding: z.number().int().positive(),
  upsample: z.enum(['nearest', 'bilinear']).default('nearest'),
  /**
   * G also takes one of the person's frames warped to the target's landmarks (data/source_warp.ts)
   * and blends it into its output through a predicted mask (networks.ts generator; docs/design.md
   * sec. 3.5). Not in the paper.
   */
  sourceWarp: z.boolean().default(false),
  /**
   * With `sourceWarp`: U-Net skips into G's decoder, so its drawing is built from the source warp's
   * own features, not only from the embedding (docs/design.md sec. 3.5): each up-block's output
   * gains gamma * conv1x1 of the encoder features at its resolution (gamma per channel, from 0), and
   * G's last convolution also reads the warp's pixels. Not in the paper.
   */
  skips: z.boolean().default(false),
  /**
   * E and D see the frames and landmark images at this resolution (2x2 average pooling down from
   * `resolution`), G draws at `resolution`; default: `resolution`. What lets a generator grow to
   * twice a meta-learned model's resolution with that model's weights (`meta-train --init`): its
   * convolutions run at any size, E's and D's sum pooling and projection want their 4x4. Not in
   * the paper.
   */
  embedResolution: z.number().int().min(16).optional(),
});
export type NetConfig = z.infer<typeof NetConfigSchema>;

export const PRESETS = {
  paper: {
    resolution: 256,
    downChannels: [64, 128, 256, 512, 512, 512],
    downAttention: 2,
    encoderChannels: [64, 128, 256, 512],
    encoderAttention: 2,
    resBlocks: 5,
    decoderChannels: [256, 128, 64, 32],
    decoderAttention: 1,
    embedding: 512,
    upsample: 'nearest',
  },
  medium: {
    resolution: 128,
    downChannels: [32, 64, 128, 256, 256],
    downAttention: 2,
    encoderChannels: [32, 64, 128, 256],
    encoderAttention: 2,
    resBlocks: 4,
    decoderChannels: [128, 64, 32, 16],
    decoderAttention: 1,
    embedding: 256,
    upsample: 'nearest',
  },
  small: {
    resolution: 64,
    downChannels: [32, 64, 128, 128],
    downAttention: 1,
    encoderChannels: [32, 64, 128],
    encoderAttention: 1,
    resBlocks: 3,
    decoderChannels: [64, 32, 16],
    decoderAttention: 0,
    embedding: 128,
    upsample: 'nearest',
  },
  tiny: {
    resolution: 32,
    downChannels: [8, 16, 32],
    downAttention: 0,
    encoderChannels: [8, 16],
    encoderAttention: 0,
    resBlocks: 1,
    decoderChannels: [16, 8],
    decoderAttention: 0,
    embedding: 32,
    upsample: 'nearest',
  },
} satisfies Record<string, z.input<typeof NetConfigSchema>>;

export type PresetName = keyof typeof PRESETS;

/** Validates a config: schema, then that the levels fit the resolution. */
export function checkNetConfig(raw: unknown): NetConfig {
  const parsed = NetConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new RangeError(`Invalid network config at "${i.path.join('.')}": ${i.message}`);
  }
  const c = parsed.data;
  const bad = (why: string): never => {
    throw new RangeError(`Invalid network config: ${why}`);
  };
  const seen = embedResolution(c);
  if (seen > c.resolution || !Number.isInteger(Math.log2(c.resolution / seen)))
    bad(`embedResolution ${seen} must be the resolution ${c.resolution} halved 0 or more times`);
  if (seen / 2 ** c.downChannels.length !== 4) {
    bad(
      `${c.downChannels.length} down-blocks take ${seen}px to ${seen / 2 ** c.downChannels.length}px; they must end at 4x4`,
    );
  }
  if (c.resolution % 2 ** c.encoderChannels.length !== 0)
    bad(`${c.encoderChannels.length} encoder down-blocks do not divide ${c.resolution}px`);
  if (c.encoderChannels.length !== c.decoderChannels.length) {
    bad(
      `the generator needs as many up-blocks (${c.decoderChannels.length}) as encoder down-blocks (${c.encoderChannels.length})`,
    );
  }
  if (c.skips && !c.sourceWarp) bad('skips carry the source warp into the decoder: they need sourceWarp');
  if (c.downAttention >= c.downChannels.length) bad('downAttention is past the last down-block');
  if (c.encoderAttention >= c.encoderChannels.length) bad('encoderAttention is past the last encoder block');
  if (c.decoderAttention >= c.decoderChannels.length) bad('decoderAttention is past the last up-block');
  return c;
}

/** The resolution E and D see (`embedResolution`, else the network's). */
export const embedResolution = (c: Pick<NetConfig, 'resolution' | 'embedResolution'>): number =>
  c.embedResolution ?? c.resolution;

export function preset(name: string): NetConfig {
  if (!(name in PRESETS))
    throw new RangeError(`Unknown preset "${name}". Presets: ${Object.keys(PRESETS).join(', ')}`);
  return checkNetConfig(PRESETS[name as PresetName]);
}
