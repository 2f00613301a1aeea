/**
 * The cleanup worker: pg-boss (in its own schema, `<CACHE_SCHEMA>_boss`)
 * runs `ttl-cleanup`, `lru-eviction` and `channel-retention` on every worker process that starts
 * it, one at a time per job across all of them (stately queues, one shared
 * singletonKey). The server starts it inline (WORKER=inline); `npm run
 * worker` runs it alone.
 *
 * With CACHE_BACKEND=redis there is no pg-boss: Redis expires entries
 * natively, and the only job, maxEntries enforcement, is a plain loop.
 */
import PgBoss from 'pg-boss';
import type { Config } from '../src/config.js';
import { createLogger, type Logger } from '../src/logger.js';
import { createPgClient, type Sql } from '../src/adapters/postgres/connection.js';
import { SCHEMA_PATTERN } from '../src/adapters/postgres/schema-name.js';
import { runTtlCleanup, DEFAULT_CLEANUP_BUDGET_MS } from './ttl-cleanup.js';
import { runLruEviction, DEFAULT_EVICTION_BUDGET_MS } from './lru-eviction.js';
import { runChannelRetention } from './channel-retention.js';
import { refreshTableHealth } from './table-health.js';
import { runRedisMaxEntries, type RedisEvictionPort } from './redis-eviction.js';
import { triggerFor } from './schedule.js';
import { jobDuration, jobFailures, type JobName } from './metrics.js';

export interface StartWorkerOptions {
  /** CACHE_BACKEND, CACHE_SCHEMA, CLEANUP_INTERVAL, EVICTION_INTERVAL, CLEANUP_BATCH_SIZE, CLEANUP_PAUSE_MS, LOG_LEVEL are read from here. */
  config: Config;
  logger?: Logger;
  /**
   * Postgres URL of the server itself, never a transaction-pooling PgBouncer; defaults to
   * DATABASE_DIRECT_URL, else DATABASE_URL (pass the embedded server's URL when there is none).
   */
  databaseUrl?: string;
  /** CACHE_BACKEND=redis: the running Redis port, whose enforceMaxEntries the worker calls. */
  redisPort?: RedisEvictionPort;
  /** Log every run's numbers at info (a separate worker process has no /metrics). Default false. */
  logEveryRun?: boolean;
  /** pg-boss polling interval in seconds (at least 0.5). Default 2. */
  pollingIntervalSeconds?: number;
  /** Rows per DELETE statement. Default config.cleanupBatchSize (CLEANUP_BATCH_SIZE). */
  batchSize?: number;
  /** Pause between two batches in ms. Default config.cleanupPauseMs (CLEANUP_PAUSE_MS). */
  pauseMs?: number;
  /** Per-run time budget in ms; what is left waits for the next run. Default 30 s. */
  timeBudgetMs?: number;
}

export interface WorkerHandle {
  /** pg-boss schema, or undefined on the Redis backend. */
  readonly bossSchema: string | undefined;
  /** Stops triggering, lets a running job finish its current batch, releases connections. Idempotent. */
  stop(): Promise<void>;
}

const PG_BOSS_SCHEMA_MAX = 50;

/** pg-boss accepts at most 50 word characters for its schema. */
export function bossSchemaFor(cacheSchema: string): string {
  const name = `${cacheSchema}_boss`;
  if (!SCHEMA_PATTERN.test(cacheSchema) || name.length > PG_BOSS_SCHEMA_MAX) {
    throw new Error(
      `CACHE_SCHEMA ${JSON.stringify(cacheSchema)} is too long for the worker: pg-boss needs "${name}" to be at most ${PG_BOSS_SCHEMA_MAX} characters`,
    );
  }
  return name;
}

export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const logger = (options.logger ?? createLogger(options.config.logLevel)).child({ component: 'worker' });
  if (options.config.backend === 'redis') return startRedisWorker(options, logger);
  return startPostgresWorker(options, logger);
}

// ------------------------------------------------------------------ Postgres

interface JobSpec {
  name: JobName;
  intervalMs: number;
  /** Per-run time budget; also sizes pg-boss's expireIn for the job. */
  budgetMs: number;
  /** One pass of the job's work; returns what to log. `busy` → worth logging at info. */
  execute(signal: AbortSignal): Promise<{ busy: boolean; summary: Record<string, unknown> }>;
}

async function startPostgresWorker(options: StartWorkerOptions, logger: Logger): Promise<WorkerHandle> {
  const { config } = options;
  const url = options.databaseUrl ?? config.databaseDirectUrl ?? config.databaseUrl;
  if (url === undefined) throw new Error('startWorker: the Postgres backend needs a database URL (DATABASE_URL or options.databaseUrl)');
  const bossSchema = bossSchemaFor(config.schema);
  const batchSize = options.batchSize ?? config.cleanupBatchSize;
  const pauseMs = options.pauseMs ?? config.cleanupPauseMs;
  const cleanupBudget = options.timeBudgetMs ?? DEFAULT_CLEANUP_BUDGET_MS;
  const evictionBudget = options.timeBudgetMs ?? DEFAULT_EVICTION_BUDGET_MS;
  const abort = new AbortController();

  // Own small pool: batches are sequential; the long statement timeout is for a 5,000-row DELETE under load.
  const sql: Sql = createPgClient({ url, schema: config.schema, max: 2, timeoutMs: 60_000, applicationName: 'cacheport-worker' });

  const jobs: JobSpec[] = [
    {
      name: 'ttl-cleanup',
      intervalMs: config.cleanupIntervalMs,
      budgetMs: cleanupBudget,
      async execute(signal) {
        const result = await runTtlCleanup(sql, { batchSize, pauseMs, timeBudgetMs: cleanupBudget, signal });
        const health = await refreshTableHealth(sql);
        const tables = Object.fromEntries(
          health.map((h) => [
            h.table,
            {
              deleted: result.deleted[h.table],
              expiredPending: h.expiredPending,
              oldestExpiredAgeSeconds: Math.round(h.oldestExpiredAgeSeconds),
              deadTuples: h.deadTuples,
            },
          ]),
        );
        return {
          busy: result.total > 0,
          summary: { deleted: result.total, complete: result.complete, durationMs: result.durationMs, tables },
        };
      },
    },
    {
      name: 'lru-eviction',
      intervalMs: config.evictionIntervalMs,
      budgetMs: evictionBudget,
      async execute(signal) {
        const result = await runLruEviction(sql, { batchSize, pauseMs, timeBudgetMs: evictionBudget, signal });
        return {
          busy: result.total > 0,
          summary: {
            evicted: result.total,
            byNamespace: result.evicted,
            skipped: result.skipped,
            complete: result.complete,
            durationMs: result.durationMs,
          },
        };
      },
    },
    {
      // Pub/sub messages past CHANNEL_RETENTION or beyond 10,000 per channel; on the cleanup interval.
      name: 'channel-retention',
      intervalMs: config.cleanupIntervalMs,
      budgetMs: cleanupBudget,
      async execute(signal) {
        const result = await runChannelRetention(sql, {
          retentionMs: config.channelRetentionMs,
          batchSize,
          timeBudgetMs: cleanupBudget,
          signal,
        });
        return {
          busy: result.deleted > 0 || result.forgotten > 0,
          summary: { deleted: result.deleted, forgotten: result.forgotten, complete: result.complete, durationMs: result.durationMs },
        };
      },
    },
  ];

  const boss = new PgBoss({
    connectionString: url,
    schema: bossSchema,
    max: 3,
    application_name: 'cacheport-worker-boss',
    // Detect a job whose worker died (active past expireIn) within half a minute.
    maintenanceIntervalSeconds: 30,
    deleteAfterDays: 1,
  });
  boss.on('error', (error: Error & { code?: string }) => {
    // 23505: another worker's job of the same queue is active (stately policy); this poll simply waits.
    if (error.code === '23505') logger.debug({ err: error }, 'pg-boss: job already active on another worker');
    else logger.error({ err: error }, 'pg-boss error');
  });

  const timers: NodeJS.Timeout[] = [];
  try {
    await boss.start();
    for (const job of jobs) {
      const expireInSeconds = Math.ceil(job.budgetMs / 1000) * 2 + 60;
      // stately: at most one queued and one active job per queue, whichever worker runs it.
      await ensureQueue(boss, { name: job.name, policy: 'stately', retryLimit: 3, retryDelay: 5, expireInSeconds });
      await boss.work(job.name, { pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2, batchSize: 1 }, async () => {
        await runJob(job, abort.signal, logger, options.logEveryRun === true);
      });
      const sendOptions = { singletonKey: job.name };
      const trigger = triggerFor(job.intervalMs);
      if (trigger.kind === 'cron') {
        await boss.schedule(job.name, trigger.cron, {}, sendOptions);
      } else {
        // Under a minute: pg-boss cron cannot express it; drop a stored schedule and tick in process.
        await boss.unschedule(job.name);
        timers.push(
          setInterval(() => {
            boss
              .send(job.name, {}, sendOptions)
              .catch((error: unknown) => logger.warn({ err: error, job: job.name }, 'could not queue job'));
          }, trigger.everyMs),
        );
      }
      // One run right away, so a backlog does not wait for the first tick.
      await boss.send(job.name, {}, sendOptions);
      logger.info({ job: job.name, trigger, bossSchema }, 'worker job scheduled');
    }
  } catch (error) {
    for (const timer of timers) clearInterval(timer);
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    await sql.end({ timeout: 5 });
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    bossSchema,
    stop() {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        abort.abort();
        // graceful: waits for the running job (it stops after its current batch), then closes pg-boss's pool.
        await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
        await sql.end({ timeout: 5 });
        logger.info('worker stopped');
      })();
      return stopping;
    },
  };
}

/** Postgres errors that mean "another worker was creating the same queue at the same moment". */
const QUEUE_RACE_CODES = new Set(['40P01', '23505']);

/**
 * createQueue is not safe to run concurrently (it creates and attaches a
 * partition): two workers starting together can deadlock. The loser retries
 * after a pause and then finds the queue.
 */
async function ensureQueue(boss: PgBoss, queue: PgBoss.Queue): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if ((await boss.getQueue(queue.name)) !== null) return;
    try {
      await boss.createQueue(queue.name, queue);
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (attempt >= 5 || typeof code !== 'string' || !QUEUE_RACE_CODES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 200));
    }
  }
}

async function runJob(job: JobSpec, signal: AbortSignal, logger: Logger, logEveryRun: boolean): Promise<void> {
  const endTimer = jobDuration.startTimer({ job: job.name });
  try {
    const { busy, summary } = await job.execute(signal);
    if (busy || logEveryRun) logger.info({ job: job.name, ...summary }, `${job.name} run`);
    else logger.debug({ job: job.name, ...summary }, `${job.name} run`);
  } catch (error) {
    jobFailures.inc({ job: job.name });
    logger.error({ err: error, job: job.name }, `${job.name} failed; pg-boss retries it`);
    throw error;
  } finally {
    endTimer();
  }
}

// ------------------------------------------------------------------ Redis

async function startRedisWorker(options: StartWorkerOptions, logger: Logger): Promise<WorkerHandle> {
  const port = options.redisPort;
  if (port === undefined) throw new Error('startWorker: CACHE_BACKEND=redis needs options.redisPort');
  const intervalMs = options.config.evictionIntervalMs;
  logger.info(
    { intervalMs },
    'CACHE_BACKEND=redis: Redis expires entries natively, nothing to clean; the worker only enforces per-namespace maxEntries',
  );
  const abort = new AbortController();
  let running: Promise<void> = Promise.resolve();

  const tick = (): void => {
    running = running.then(async () => {
      if (abort.signal.aborted) return;
      const endTimer = jobDuration.startTimer({ job: 'lru-eviction' });
      try {
        const result = await runRedisMaxEntries(port, abort.signal);
        const level = result.total > 0 || options.logEveryRun === true ? 'info' : 'debug';
        logger[level](
          { job: 'lru-eviction', evicted: result.total, byNamespace: result.evicted, durationMs: result.durationMs },
          'lru-eviction run',
        );
      } catch (error) {
        jobFailures.inc({ job: 'lru-eviction' });
        logger.error({ err: error, job: 'lru-eviction' }, 'lru-eviction failed; retried next interval');
      } finally {
        endTimer();
      }
    });
  };
  tick();
  const timer = setInterval(tick, intervalMs);

  let stopping: Promise<void> | undefined;
  return {
    bossSchema: undefined,
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        abort.abort();
        await running;
        logger.info('worker stopped');
      })();
      return stopping;
    },
  };
}
