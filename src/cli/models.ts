/** `talking-heads models`: the meta-trained models that ship with the package. */
import type { Command } from 'commander';
import { DEFAULT_MODEL, listShippedModels, SHIPPED_MODELS_DIR } from '../train/model.js';
import { EXIT_STATUSES } from './options.js';

export function addModels(program: Command): void {
  program
    .command('models')
    .description('list the shipped meta-trained models (use one with --model NAME)')
    .option('--json', 'as JSON')
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action((o: { json?: boolean }) => {
      const models = listShippedModels();
      if (o.json) {
        console.log(JSON.stringify(models, null, 1));
        return;
      }
      if (models.length === 0) {
        console.log(`No models in ${SHIPPED_MODELS_DIR}`);
        return;
      }
      console.log('name                  preset  size   variant  steps    file');
      for (const m of models)
        console.log(
          `${(m.name + (m.name === DEFAULT_MODEL ? ' *' : '')).padEnd(20)}  ${m.preset.padEnd(6)}  ${`${m.resolution}px`.padEnd(5)}  ${m.variant.toUpperCase().padEnd(7)}  ${String(m.step).padEnd(7)}  ${(m.bytes / 2 ** 20).toFixed(1)} MB`,
        );
      console.log(`\n* the default (demo, fine-tune). Model card: docs/model-card.md. Use: --model NAME`);
    });
}
