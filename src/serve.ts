/**
 * `cacheport serve` / `npm start`: load the config, start the server, stop gracefully on
 * SIGTERM/SIGINT. Any failure to start exits 1 with one line naming cause and fix (src/fatal.ts).
 * WEB_CONCURRENCY > 1: this process becomes the cluster primary (src/cluster.ts)
 * and each forked worker runs this file again as an HTTP worker.
 */
import { loadConfig } from './config.js';
import { exitWithStartupFailure } from './fatal.js';
import { startServer } from './app.js';
import { isClusterWorker, runPrimary, startClusterWorker } from './cluster.js';

export async function serveCommand(): Promise<void> {
  const config = loadConfig();
  if (config.webConcurrency > 1 && !isClusterWorker()) return runPrimary(config);
  const server = isClusterWorker() ? await startClusterWorker(config) : await startServer(config);
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
  // A cluster worker whose primary went away stops too.
  if (isClusterWorker()) process.on('disconnect', () => shutdown('SIGTERM'));
}

export function runServeCommand(): void {
  serveCommand().catch((error: unknown) => exitWithStartupFailure('serve', error));
}
