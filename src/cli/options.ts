/** Option parsers and shared options of the `talking-heads` commands. */
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { BACKEND_NAMES, ENV_VAR } from '../engine/backend.js';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

export function numArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

function positiveOrZero(value: string): number {
  const n = numArg(value);
  if (n < 0 || n > 1) throw new InvalidArgumentError(`expected a probability in [0, 1], got "${value}"`);
  return n;
}

/** A number in (min, max]: rates, learning rates, weights that must be positive. */
export function positiveArg(max = Number.MAX_VALUE) {
  return (value: string): number => {
    const n = numArg(value);
    if (!(n > 0) || n > max)
      throw new InvalidArgumentError(`expected a number in (0, ${max}], got "${value}"`);
    return n;
  };
}

export function backendOption() {
  return new Option(
    '-b, --backend <name>',
    `compute backend: ${BACKEND_NAMES.join(', ')} (env ${ENV_VAR}; default: tensorflow if @tensorflow/tfjs-node is installed, else native if its addon is built, else wasm)`,
  );
}

/** The exit statuses, for every command's --help epilogue and the README. */
export const EXIT_STATUSES = `Exit status: 0 ok, 1 error (the message says what and how to fix it), 2 partial failure (preprocess: some files failed), 3 stopped on a NaN/Inf loss (the last good checkpoint is kept), 130 interrupted (Ctrl-C; a training run saved a checkpoint).`;

/** Fine-tuning's face-api content terms (fine-tune, evaluate): unset keeps the meta-trained model's. */
export const IDENTITY_OPTION = [
  '--identity <w>',
  "fine-tuning: weight of the identity-feature content term (face-api's face-recognition ResNet; default: the model's)",
  numArg,
] as const;
export const PERCEPTUAL_OPTION = [
  '--perceptual <w>',
  "fine-tuning: weight of the perceptual content term (face-api's MobileNetV1 features; default: the model's)",
  numArg,
] as const;
/** What of G fine-tuning trains (fine-tune, evaluate). */
export function trainOption() {
  return new Option(
    '--train <what>',
    "fine-tuning: what of G it trains: decoder (psi' and G's decoder; the encoder and residual blocks stay meta-learned; the default), all (G's weights and psi', the paper) or psi (psi' only)",
  ).choices(['decoder', 'all', 'psi']);
}

export const HOLD_MASK_OPTION = [
  '--hold-mask',
  "fine-tuning: on frames whose source warp is their own pixels (T = 1), fit G's drawing and hold the blend's mask as meta-learned",
] as const;

export const D_STEPS_OPTION = [
  '--d-steps <n>',
  "fine-tuning: D updates per G update (default: the meta-trained model's; 1 for the shipped models, the paper's 2)",
  intArg(1),
] as const;

export const ANCHOR_OPTION = [
  '--anchor <w>',
  "fine-tuning: weight of an L1 that keeps G' drawing, for expressions the frames do not show, what the feed-forward G' drew (default: 10 for a source-warp model such as real-64px given one frame, else 0; it hurts where the feed-forward frames are poor)",
  numArg,
] as const;

export const WARP_OPTION = [
  '--warp <p>',
  'fine-tuning: probability that a frame is the given photo warped to another expression (procedural motion retargeted onto the face; default 0)',
  positiveOrZero,
] as const;
