/** `talking-heads rank-drivers`: driving videos ranked by how well they keep the person's identity. */
import type { Command } from '@commander-js/extra-typings';
import { initEngine } from '../engine/backend.js';
import { rankDrivers, rankTable } from '../eval/rank.js';
import { disposePersonal, loadPersonalModel } from '../models/personal.js';
import { backendOption, EXIT_STATUSES, intArg } from './options.js';

export function addRankDrivers(program: Command): void {
  program
    .command('rank-drivers')
    .description(
      "rank driving videos by how well the person's identity survives them (CSIM-faceapi; paper sec. 4)",
    )
    .argument('<drivers...>', 'videos, photos, landmark JSON files or dataset folders to drive with')
    .requiredOption('--model <file>', 'a personalised model (fine-tune or demo output)')
    .option('--max-frames <n>', 'frames scored per driver (evenly spread)', intArg(1), 64)
    .option('--no-retarget', 'feed the raw landmarks (default: retarget another person)')
    .option('--json', 'as JSON')
    .addOption(backendOption())
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (drivers, o) => {
      await initEngine({ backend: o.backend });
      const model = loadPersonalModel(o.model);
      try {
        const ranks = await rankDrivers(model, drivers, {
          maxFrames: o.maxFrames,
          ...(o.retarget ? {} : { retarget: false }),
          onDriver: (i, r) => {
            if (!o.json) console.log(`${i + 1}/${drivers.length} ${r.driver}: ${r.csim.toFixed(4)}`);
          },
        });
        console.log(o.json ? JSON.stringify(ranks, null, 1) : `\n${rankTable(ranks)}`);
      } finally {
        disposePersonal(model);
      }
    });
}
