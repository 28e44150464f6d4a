/**
 * The `talking-heads` command line: a thin layer over the library, one file per command.
 */
import { Command } from '@commander-js/extra-typings';
import { createRequire } from 'node:module';
import { addAnimate } from './animate.js';
import { addCompare } from './compare.js';
import { addEvaluate } from './evaluate.js';
import { explain } from './errors.js';
import { addExport } from './export.js';
import { addDemo } from './demo.js';
import { addDoctor } from './doctor.js';
import { addFineTune } from './finetune.js';
import { addMetaTrain } from './meta.js';
import { addMerge } from './merge.js';
import { addModels } from './models.js';
import { EXIT_STATUSES } from './options.js';
import { addPreprocess } from './preprocess.js';
import { addRankDrivers } from './rank.js';
import { addServe } from './serve.js';
import { addShow } from './show.js';
import { addSynth } from './synth.js';
import { addUserStudy } from './user_study.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('talking-heads')
    .description('Few-shot adversarial talking-head models (Zakharov et al. 2019) on TF.js')
    .version(pkg.version)
    .showHelpAfterError()
    .addHelpText('after', `\n${EXIT_STATUSES}`);
  addDoctor(program);
  addDemo(program);
  addSynth(program);
  addPreprocess(program);
  addMerge(program);
  addShow(program);
  addMetaTrain(program);
  addFineTune(program);
  addAnimate(program);
  addExport(program);
  addModels(program);
  addCompare(program);
  addEvaluate(program);
  addUserStudy(program);
  addRankDrivers(program);
  addServe(program);
  return program;
}
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    // Expected failures (bad input, bad checkpoint...) print one clear line, not a stack trace.
    const err = e as Error;
    console.error(`talking-heads: ${explain(err)}`);
    if (process.env['TALKING_HEADS_DEBUG']) console.error(err.stack);
    process.exitCode = process.exitCode || 1;
  }
}
