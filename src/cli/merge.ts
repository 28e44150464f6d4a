/** `talking-heads merge`: datasets (preprocessing shards) read as one, without copying frames. */
import type { Command } from '@commander-js/extra-typings';
import { mergeDatasets } from '../data/dataset_writer.js';
import { EXIT_STATUSES } from './options.js';

export function addMerge(program: Command): void {
  program
    .command('merge')
    .description('one dataset made of several (e.g. preprocess --shard outputs), without copying frames')
    .argument('<datasets...>', 'dataset folders')
    .requiredOption('-o, --out <dir>', 'the merged dataset (a manifest pointing at the parts)')
    .addHelpText('after', `\nThe parts stay where they are; move them and merge again.\n${EXIT_STATUSES}`)
    .action((parts, o) => {
      const ds = mergeDatasets(o.out, parts);
      console.log(`${o.out}: ${ds.validate()}`);
    });
}
