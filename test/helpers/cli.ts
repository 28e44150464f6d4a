// The CLI from the TypeScript sources, for tests that start it as a process (under mpirun, say):
//   node --import tsx test/helpers/cli.ts meta-train ...
import { main } from '../../src/cli/main.js';

await main(process.argv);
