#!/usr/bin/env node
// Entry point of the `talking-heads` command. The TypeScript sources are compiled to dist/ by
// `npm run build` (npm ci runs it through the `prepare` script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(
    'talking-heads: not built yet. Run "npm ci" (or "npm run build") in the project folder first.',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
