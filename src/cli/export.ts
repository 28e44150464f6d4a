/** `talking-heads export-model`: a meta-trained run or checkpoint as one model file. */
import { Option, type Command } from '@commander-js/extra-typings';
import { STORAGES, type Storage } from '../io/compact.js';
import { statSync } from 'node:fs';
import { checkOutput } from '../core/output.js';
import { InputError } from '../core/errors.js';
import { initEngine } from '../engine/backend.js';
import { disposeModel, loadMetaModel, saveModelFile } from '../train/model.js';
import { EXIT_STATUSES } from './options.js';

export async function runExport(
  o: { model: string; out: string; force?: boolean; storage?: Storage },
  log: (s: string) => void = console.log,
): Promise<void> {
  if (!o.out.endsWith('.safetensors'))
    throw new InputError(`-o "${o.out}": a model file ends in .safetensors`);
  checkOutput(o.out, Boolean(o.force), false);
  await initEngine({});
  const m = loadMetaModel(o.model);
  try {
    saveModelFile(m, o.out, o.storage ?? 'f32');
    log(
      `Wrote ${o.out} (${(statSync(o.out).size / 2 ** 20).toFixed(1)} MB, ${o.storage ?? 'f32'}): preset ${m.config.preset}, ${m.config.variant.toUpperCase()} variant, step ${m.step}, from ${m.source}`,
    );
  } finally {
    disposeModel(m);
  }
}

export function addExport(program: Command): void {
  program
    .command('export-model')
    .description(
      'write a meta-trained model (weights, no optimizer state) as one .safetensors file for --model',
    )
    .requiredOption(
      '--model <run>',
      'a run folder (its newest intact checkpoint), a checkpoint folder, or a shipped model (talking-heads models)',
    )
    .requiredOption('-o, --out <file.safetensors>', 'the model file to write')
    .option('--force', 'replace an existing output')
    .addOption(
      new Option(
        '--storage <kind>',
        "f32; f16 (half the size); q8 (f16, and D's conv weights in 8 bits: a third). Read back as float32",
      )
        .choices(STORAGES)
        .default('f32'),
    )
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (o) => runExport(o));
}
