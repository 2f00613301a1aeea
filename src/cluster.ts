/**
 * Multi-process mode (WEB_CONCURRENCY > 1), with node:cluster.
 *
 * The primary serves no requests: it starts embedded PostgreSQL when
 * DATABASE_URL is unset, runs the migrations once, then forks the HTTP
 * workers. Each worker builds its own port with a share of the pool
 * (max(1, floor(PG_POOL_MAX / N))) and listens on the shared socket; worker 0
 * also runs the cleanup worker (WORKER=inline), so it runs in exactly one
 * process. A worker that crashes is forked again under the same number; one
 * that fails before listening stops the whole cluster (exit 1), since its
 * replacement would fail the same way. SIGTERM/SIGINT drain every worker
 * (each closes gracefully) and the primary exits 0 once all have.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createAuthenticator } from './http/auth.js';
import { prepareDatabase, type PreparedDatabase } from './backend.js';
import { SHUTDOWN_GRACE_MS, startServer, type RunningServer } from './app.js';
import { SiblingRelay } from './cluster-siblings.js';
import { labelWorker } from './metrics.js';

/** Set by the primary on each worker: its number, 0..N-1. */
const WORKER_ID_VARIABLE = 'CACHEPORT_WORKER_ID';
/** Workers still running this long after SIGTERM are killed. */
const KILL_AFTER_MS = SHUTDOWN_GRACE_MS + 5_000;
/** More restarts than this within RESTART_WINDOW_MS → wait RESTART_BACKOFF_MS before the next one. */
const RESTART_BURST = 3;
const RESTART_WINDOW_MS = 60_000;
const RESTART_BACKOFF_MS = 5_000;

interface ListeningMessage {
  type: 'cacheport:listening';
  url: string;
}

function isListeningMessage(message: unknown): message is ListeningMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'cacheport:listening';
}

/** Each worker's share of PG_POOL_MAX, so the cluster as a whole stays within it. */
export function workerPoolMax(config: Pick<Config, 'pgPoolMax' | 'webConcurrency'>): number {
  return Math.max(1, Math.floor(config.pgPoolMax / config.webConcurrency));
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: start the HTTP server (database already prepared by the primary) and report it listening. */
export async function startClusterWorker(config: Config): Promise<RunningServer> {
  const id = Number(process.env[WORKER_ID_VARIABLE] ?? '0');
  const logger = createLogger(config.logLevel).child({ pid: process.pid, worker: id });
  // Each worker answers /metrics with its own figures only: the label says whose they are.
  labelWorker(id);
  const server = await startServer(config, {
    logger,
    worker: config.worker === 'inline' && id === 0,
    backend: { prepare: false, poolMax: workerPoolMax(config) },
    // Writes are seen at once by the next read whichever worker answers it (cluster-siblings.ts).
    siblings: true,
  });
  const message: ListeningMessage = { type: 'cacheport:listening', url: server.url };
  process.send?.(message);
  return server;
}

/** In the primary: prepare the database, fork the workers, keep them running, drain them on SIGTERM/SIGINT. */
export async function runPrimary(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel).child({ pid: process.pid, role: 'primary' });
  // A token configuration error stops here, before anything is started.
  createAuthenticator(config);
  const database: PreparedDatabase | undefined = config.backend === 'postgres' ? await prepareDatabase(config, logger) : undefined;
  const workerEnv: Record<string, string> = database ? { DATABASE_URL: database.databaseUrl } : {};

  const workers = new Map<Worker, number>();
  const listened = new Set<Worker>();
  const restarts: number[] = [];
  let stopping: Promise<void> | undefined;
  let announced = false;
  const relay = new SiblingRelay(() => listened);

  const fork = (id: number): void => {
    const worker = cluster.fork({ ...workerEnv, [WORKER_ID_VARIABLE]: String(id) });
    workers.set(worker, id);
    worker.on('message', (message: unknown) => {
      if (relay.handle(worker, message) || !isListeningMessage(message)) return;
      listened.add(worker);
      if (!announced && listened.size === config.webConcurrency) {
        announced = true;
        logger.info(
          { url: message.url, workers: config.webConcurrency, poolMaxPerWorker: workerPoolMax(config) },
          `cacheport cluster listening on ${message.url}`,
        );
      }
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      relay.gone(worker);
      const wasListening = listened.delete(worker);
      if (stopping) return;
      if (!wasListening) {
        logger.error({ worker: id, code, signal }, 'a worker failed to start; stopping the cluster');
        void stop(1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && (restarts[0] as number) < now - RESTART_WINDOW_MS) restarts.shift();
      const delay = restarts.length > RESTART_BURST ? RESTART_BACKOFF_MS : 0;
      logger.error({ worker: id, code, signal, restartInMs: delay }, 'worker exited unexpectedly; restarting it');
      setTimeout(() => {
        if (!stopping) fork(id);
      }, delay);
    });
  };

  const stop = (exitCode: number, signal?: NodeJS.Signals): Promise<void> => {
    stopping ??= (async () => {
      if (signal) logger.info({ signal }, 'shutting down: draining workers');
      const codes = await drain([...workers.keys()], logger);
      await database?.embedded?.stop().catch((error: unknown) => logger.error({ err: error }, 'embedded PostgreSQL stop failed'));
      const clean = codes.every((code) => code === 0);
      logger.info({ workers: codes.length, clean }, 'cacheport cluster stopped');
      process.exit(exitCode === 0 && !clean ? 1 : exitCode);
    })();
    return stopping;
  };
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));
  process.on('SIGINT', () => void stop(0, 'SIGINT'));

  for (let id = 0; id < config.webConcurrency; id++) fork(id);
}

/** SIGTERM to every worker; waits for all exits (killing stragglers after KILL_AFTER_MS); resolves with their exit codes. */
function drain(workers: Worker[], logger: Logger): Promise<(number | null)[]> {
  return Promise.all(
    workers.map(
      (worker) =>
        new Promise<number | null>((resolve) => {
          if (worker.isDead()) {
            resolve(worker.process.exitCode);
            return;
          }
          const timer = setTimeout(() => {
            logger.warn({ pid: worker.process.pid }, 'worker did not stop in time; killing it');
            worker.process.kill('SIGKILL');
          }, KILL_AFTER_MS);
          worker.once('exit', (code) => {
            clearTimeout(timer);
            resolve(code);
          });
          worker.process.kill('SIGTERM');
        }),
    ),
  );
}
