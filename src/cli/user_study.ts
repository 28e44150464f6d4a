/** `talking-heads user-study make|score`: the paper's USER column (src/eval/user_study.ts). */
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { makeStudy, scoreStudy, scoreText, type Answers, type StudyKey } from '../eval/user_study.js';
import { EXIT_STATUSES, intArg } from './options.js';

const readJson = <T>(path: string, what: string): T => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new InputError(`Cannot read the ${what} "${path}": ${(e as Error).message}`);
  }
};

export function addUserStudy(program: Command): void {
  const cmd = program
    .command('user-study')
    .description(
      "the paper's USER metric: a page where people pick the generated clip among three, and its score",
    );
  cmd
    .command('make')
    .description('write a self-contained HTML study (and its key) from an evaluate folder')
    .option('--from <dir>', 'an evaluate output folder', 'out/evaluate')
    .option('-T <n>', 'few-shot size whose clips to show', intArg(1), 8)
    .option('--method <m>', 'fine-tuned or feed-forward', 'fine-tuned')
    .option('--trials <n>', 'triplets to show', intArg(1), 20)
    .option('--seed <n>', 'order of clips and slots', intArg(0), 0)
    .option('-o, --out <file>', 'the page (the key goes beside it: FILE.key.json)', 'out/user-study.html')
    .addHelpText('after', `\n${EXIT_STATUSES}`)
    .action(async (o) => {
      if (o.method !== 'fine-tuned' && o.method !== 'feed-forward')
        throw new InvalidArgumentError(`--method is fine-tuned or feed-forward, not "${o.method}"`);
      const r = await makeStudy({
        from: o.from,
        out: o.out,
        T: o.T,
        method: o.method,
        trials: o.trials,
        seed: o.seed,
      });
      console.log(
        `Wrote ${r.page} (${r.trials} triplets; open it in a browser, no network needed) and its key ${r.key} (keep it from participants).\n` +
          `Score the answers files people download: talking-heads user-study score ANSWERS.json... --key ${r.key}`,
      );
    });
  cmd
    .command('score')
    .description('USER accuracy of answers files against the key (0.33 = chance), with a 95% interval')
    .argument('<answers...>', 'answers files downloaded from the page (one per participant)')
    .requiredOption('--key <file>', 'the key make wrote')
    .option('--json', 'as JSON')
    .action((files, o) => {
      const key = readJson<StudyKey>(o.key, 'study key');
      const s = scoreStudy(
        files.map((f) => readJson<Answers>(f, 'answers file')),
        key,
      );
      console.log(o.json ? JSON.stringify(s) : scoreText(s));
    });
}
