import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTtlCleanup } from '../../jobs/ttl-cleanup.js';
import { refreshTableHealth } from '../../jobs/table-health.js';
import { startWorker } from '../../jobs/worker.js';
import { deleteExpiredRows } from '../../src/adapters/postgres/maintenance.js';
import { CLEANUP_TABLES } from '../../src/adapters/postgres/tables.js';
import { registry } from '../../src/metrics.js';
import { countRows, createWorkerTestDb, insertEntries, waitFor, workerConfig, type WorkerTestDb } from './support.js';

let db: WorkerTestDb;

beforeAll(async () => {
  db = await createWorkerTestDb('wttl');
});

afterAll(async () => {
  await db?.drop();
});

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('ttl-cleanup', () => {
  it('sweeps every table of the fixed list, including the coordination tables', () => {
    expect([...CLEANUP_TABLES]).toEqual(expect.arrayContaining(['entries', 'durable_entries', 'sessions', 'presence', 'rate_limits']));
    expect(CLEANUP_TABLES).not.toContain('locks');
  });

  it('deletes expired rows in batches and keeps live and never-expiring ones', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'direct', count: 1234, key: (i) => `expired-${i}`, expiresInSeconds: -60 });
    await insertEntries(sql, { ns: 'direct', count: 50, key: (i) => `live-${i}`, expiresInSeconds: 3600 });
    await insertEntries(sql, { ns: 'direct', count: 20, key: (i) => `forever-${i}`, expiresInSeconds: null });
    await insertEntries(sql, {
      ns: 'direct',
      count: 300,
      key: (i) => `durable-expired-${i}`,
      expiresInSeconds: -1,
      table: 'durable_entries',
    });
    await sql`INSERT INTO presence (channel, member, expires_at) VALUES ('room', 'gone', now() - interval '1 second'), ('room', 'here', now() + interval '1 hour')`;
    const before = await metricValue('cacheport_cleanup_rows_expired_total', { table: 'entries' });

    const result = await runTtlCleanup(sql, { batchSize: 100 });

    expect(result.complete).toBe(true);
    expect(result.deleted.entries).toBe(1234);
    expect(result.deleted.durable_entries).toBe(300);
    expect(result.deleted.presence).toBe(1);
    expect(await countRows(sql, 'entries', 'direct')).toBe(70);
    expect(await countRows(sql, 'durable_entries', 'direct')).toBe(0);
    expect(await sql`SELECT member FROM presence`).toEqual([{ member: 'here' }]);
    expect(await metricValue('cacheport_cleanup_rows_expired_total', { table: 'entries' })).toBe(before + 1234);
    await sql`DELETE FROM entries`;
  });

  it('stops at its time budget and leaves the rest to the next run', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'budget', count: 500, expiresInSeconds: -5 });
    const starved = await runTtlCleanup(sql, { batchSize: 100, timeBudgetMs: 0 });
    expect(starved.complete).toBe(false);
    expect(await countRows(sql, 'entries', 'budget')).toBe(500);

    const next = await runTtlCleanup(sql, { batchSize: 100 });
    expect(next.complete).toBe(true);
    expect(await countRows(sql, 'entries', 'budget')).toBe(0);
  });

  it('pauses between batches within its time budget: a pause longer than the budget ends the run after one batch', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'paced', count: 300, expiresInSeconds: -5 });
    const paced = await runTtlCleanup(sql, { batchSize: 100, pauseMs: 60_000, timeBudgetMs: 300 });
    expect(paced).toMatchObject({ complete: false, total: 100 });
    expect(await countRows(sql, 'entries', 'paced')).toBe(200);

    expect(await runTtlCleanup(sql, { batchSize: 100, pauseMs: 1 })).toMatchObject({ complete: true, total: 200 });
    expect(await countRows(sql, 'entries', 'paced')).toBe(0);
  });

  it('stops during a pause when aborted (worker shutdown), after the batch that was running', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'abort-pause', count: 300, expiresInSeconds: -5 });
    const abort = new AbortController();
    // The pause (60 s) and budget (10 min) are far beyond the test timeout: only the abort can end this run in time.
    const result = await deleteExpiredRows(sql, {
      batchSize: 100,
      pauseMs: 60_000,
      timeBudgetMs: 600_000,
      signal: abort.signal,
      onDeleted: () => abort.abort(),
    });
    expect(result).toMatchObject({ complete: false, total: 100 });
    expect(await countRows(sql, 'entries', 'abort-pause')).toBe(200);
    await sql`DELETE FROM entries`;
  });

  it('reports the expired backlog, its age and dead tuples', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'health', count: 40, expiresInSeconds: -120 });
    const health = await refreshTableHealth(sql);
    const entries = health.find((h) => h.table === 'entries');
    expect(entries?.expiredPending).toBe(40);
    expect(entries?.oldestExpiredAgeSeconds).toBeGreaterThanOrEqual(119);
    expect(await metricValue('cacheport_cleanup_expired_pending_rows', { table: 'entries' })).toBe(40);

    await runTtlCleanup(sql);
    const after = await refreshTableHealth(sql);
    expect(after.find((h) => h.table === 'entries')?.expiredPending).toBe(0);
    expect(after.find((h) => h.table === 'entries')?.oldestExpiredAgeSeconds).toBe(0);
    const metrics = await registry.metrics();
    expect(metrics).toContain('cacheport_table_dead_tuples{table="entries"}');
    expect(metrics).toContain('cacheport_cleanup_oldest_expired_age_seconds{table="entries"} 0');
  });

  it('runs through pg-boss: rows expire away without a direct call, and the job is recorded', async () => {
    const { sql, schema } = db;
    await insertEntries(sql, { ns: 'boss', count: 2000, expiresInSeconds: -1 });
    await insertEntries(sql, { ns: 'boss', count: 10, key: (i) => `live-${i}`, expiresInSeconds: 3600 });
    const worker = await startWorker({ config: workerConfig(schema), pollingIntervalSeconds: 0.5 });
    try {
      expect(await waitFor(async () => (await countRows(sql, 'entries', 'boss')) === 10)).toBe(true);
      // The run that deleted them is recorded as completed once its handler returns.
      expect(
        await waitFor(async () => {
          const [completed] = await sql<{ n: bigint }[]>`
          SELECT count(*)::bigint AS n FROM ${sql(`${schema}_boss`)}.job WHERE name = 'ttl-cleanup' AND state = 'completed'
        `;
          return Number(completed?.n) > 0;
        }),
      ).toBe(true);
      const queue = await sql<{ policy: string }[]>`SELECT policy FROM ${sql(`${schema}_boss`)}.queue WHERE name = 'ttl-cleanup'`;
      expect(queue).toEqual([{ policy: 'stately' }]);
    } finally {
      await worker.stop();
    }
    expect(await countRows(sql, 'entries', 'boss')).toBe(10);
  }, 90_000);

  it('counts a failing run and recovers on the next one', async () => {
    const { sql, schema } = db;
    await insertEntries(sql, { ns: 'retry', count: 100, expiresInSeconds: -1 });
    const failuresBefore = await metricValue('cacheport_worker_job_failures_total', { job: 'ttl-cleanup' });
    // A missing table makes every cleanup run throw before it deletes anything.
    await sql`ALTER TABLE entries RENAME TO entries_away`;
    const worker = await startWorker({ config: workerConfig(schema), pollingIntervalSeconds: 0.5 });
    try {
      expect(
        await waitFor(async () => (await metricValue('cacheport_worker_job_failures_total', { job: 'ttl-cleanup' })) > failuresBefore),
      ).toBe(true);
      expect(await countRows(sql, 'entries_away', 'retry')).toBe(100);
      await sql`ALTER TABLE entries_away RENAME TO entries`;
      expect(await waitFor(async () => (await countRows(sql, 'entries', 'retry')) === 0)).toBe(true);
    } finally {
      await worker.stop();
    }
  }, 120_000);
});
