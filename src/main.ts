/**
 * `npm start`: load the config, start the server, stop gracefully on
 * SIGTERM/SIGINT. A configuration error exits 1 with a message naming the variable.
 */
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`cacheport: configuration error: ${error.message}\n`);
  } else {
    process.stderr.write(`cacheport: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
