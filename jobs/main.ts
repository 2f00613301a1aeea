/**
 * `npm run worker`: the cleanup worker as its own process. Run the server
 * with WORKER=off beside it. Several of these may run at once; each job
 * still runs on one of them at a time.
 */
import { loadConfig, ConfigError, type Config } from '../src/config.js';
import { createLogger, type Logger } from '../src/logger.js';
import { runMigrations } from '../src/adapters/postgres/migrate.js';
import { startWorker, type WorkerHandle } from './worker.js';
import { createRedisBackend } from '../src/backend.js';

async function start(config: Config, logger: Logger): Promise<{ worker: WorkerHandle; close(): Promise<void> } | undefined> {
  if (config.backend === 'redis') {
    const port = createRedisBackend(config, logger);
    const worker = await startWorker({ config, logger, redisPort: port, logEveryRun: true });
    return { worker, close: () => port.close() };
  }
  if (config.databaseUrl === undefined) {
    logger.error(
      'npm run worker needs DATABASE_URL: the embedded PostgreSQL is started by the server only. ' +
        'Set DATABASE_URL to the database the server uses, or run the worker inside the server (WORKER=inline, the default).',
    );
    return undefined;
  }
  await runMigrations(config.databaseUrl, config.schema);
  const worker = await startWorker({ config, logger, logEveryRun: true });
  return { worker, close: async () => {} };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const running = await start(config, logger);
  if (running === undefined) {
    process.exitCode = 1;
    return;
  }

  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, 'stopping worker');
    running.worker
      .stop()
      .then(() => running.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'worker did not stop cleanly');
        process.exit(1);
      });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
