/**
 * `cacheport worker` / `npm run worker`: the cleanup worker as its own process.
 * Run the server with WORKER=off beside it. Several of these may run at once;
 * each job still runs on one of them at a time. Without DATABASE_URL it uses
 * the embedded PostgreSQL of CACHE_DATA_DIR: the one a server on the same
 * CACHE_DATA_DIR runs, or its own (started here) when none runs.
 */
import { loadConfig, type Config } from '../src/config.js';
import { createLogger, type Logger } from '../src/logger.js';
import { openRedisBackend, prepareDatabase } from '../src/backend.js';
import { exitWithStartupFailure } from '../src/fatal.js';
import { startWorker, type WorkerHandle } from './worker.js';

interface RunningWorker {
  worker: WorkerHandle;
  close(): Promise<void>;
}

async function start(config: Config, logger: Logger): Promise<RunningWorker> {
  if (config.backend === 'redis') {
    const port = await openRedisBackend(config, logger);
    const worker = await startWorker({ config, logger, redisPort: port, logEveryRun: true });
    return { worker, close: () => port.close() };
  }
  // The worker connects to the server itself: its batches hold a connection for seconds, which should not come out of PgBouncer's pool.
  const { directUrl, embedded } = await prepareDatabase(config, logger);
  try {
    const worker = await startWorker({ config, logger, databaseUrl: directUrl, logEveryRun: true });
    return { worker, close: async () => embedded?.stop() };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

export async function workerCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const running = await start(config, logger);

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

export function runWorkerCommand(): void {
  workerCommand().catch((error: unknown) => exitWithStartupFailure('worker', error));
}
