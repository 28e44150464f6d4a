/** `talking-heads serve`: the browser app on this machine (src/serve/server.ts, web/). */
import type { Command } from '@commander-js/extra-typings';
import { serve } from '../serve/server.js';
import { EXIT_STATUSES } from './options.js';

export function addServe(program: Command): void {
  program
    .command('serve')
    .description('serve the browser app: make and drive a talking head from photos and a webcam, in the page')
    .option('--port <n>', 'port to listen on', '8080')
    .option('--host <addr>', 'address to listen on (0.0.0.0 to reach it from other machines)', '127.0.0.1')
    .addHelpText(
      'after',
      `
Everything runs in the browser: photos, webcam frames and models never leave it (the server only
sends the page, the shipped model and face-api's weights). Open the printed address in Chrome,
Edge or Firefox.
${EXIT_STATUSES}`,
    )
    .action(async (o) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new RangeError(`--port must be a port number (0-65535), got "${o.port}"`);
      const { server, url } = await serve({ port, host: o.host });
      console.log(`talking-heads: the browser app is at ${url} (Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => server.close(() => resolve()));
        process.once('SIGTERM', () => server.close(() => resolve()));
      });
    });
}
