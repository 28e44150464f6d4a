/** `talking-heads models`: the meta-trained models that ship with the package. */
import type { Command } from '@commander-js/extra-typings';
import { DEFAULT_MODEL, fileSha256, listShippedModels, SHIPPED_MODELS_DIR } from '../train/model.js';
import { EXIT_STATUSES } from './options.js';

export function addModels(program: Command): void {
  program
    .command('models')
    .description('list the shipped meta-trained models (use one with --model NAME)')
    .option('--json', 'as JSON')
    .option('--verify', "check each file's SHA-256 against models/models.json (exit 1 on a mismatch)")
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action((o) => {
      const models = listShippedModels();
      const bad: string[] = [];
      if (o.verify)
        for (const m of models) {
          const got = fileSha256(m.path);
          if (got !== m.sha256)
            bad.push(`${m.name}: SHA-256 ${got}, models.json says ${m.sha256 ?? 'nothing'}`);
        }
      if (o.json) {
        console.log(JSON.stringify(models, null, 1));
        return;
      }
      if (models.length === 0) {
        console.log(`No models in ${SHIPPED_MODELS_DIR}`);
        return;
      }
      console.log(
        `name                  preset  size   variant  steps    storage  file      card${o.verify ? '                        SHA-256' : ''}`,
      );
      for (const m of models)
        console.log(
          `${(m.name + (m.name === DEFAULT_MODEL ? ' *' : '')).padEnd(20)}  ${m.preset.padEnd(6)}  ${`${m.resolution}px`.padEnd(5)}  ${m.variant.toUpperCase().padEnd(7)}  ${String(m.step).padEnd(7)}  ${m.storage.padEnd(7)}  ${`${(m.bytes / 2 ** 20).toFixed(1)} MB`.padEnd(8)}  ${(m.card ?? '-').padEnd(26)}${o.verify ? `  ${m.sha256 ?? '-'}` : ''}`,
        );
      console.log(
        `\n* the default of fine-tune and animate (procedural heads). The demo and the browser app use real-64px. Use: --model NAME`,
      );
      if (o.verify) {
        if (bad.length)
          throw new Error(`Shipped model files differ from models/models.json:\n${bad.join('\n')}`);
        console.log('SHA-256 of every file matches models/models.json.');
      }
    });
}
