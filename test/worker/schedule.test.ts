import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerFor } from '../../jobs/schedule.js';
import { bossSchemaFor, startWorker } from '../../jobs/worker.js';
import { createWorkerTestDb, workerConfig, type WorkerTestDb } from './support.js';

describe('triggerFor', () => {
  it('turns whole minutes and hours into pg-boss cron and anything under a minute into a loop', () => {
    expect(triggerFor(1000)).toEqual({ kind: 'loop', everyMs: 1000 });
    expect(triggerFor(59_999)).toEqual({ kind: 'loop', everyMs: 59_999 });
    expect(triggerFor(60_000)).toEqual({ kind: 'cron', cron: '* * * * *' });
    expect(triggerFor(5 * 60_000)).toEqual({ kind: 'cron', cron: '*/5 * * * *' });
    expect(triggerFor(90_000)).toEqual({ kind: 'cron', cron: '* * * * *' });
    expect(triggerFor(3_600_000)).toEqual({ kind: 'cron', cron: '0 * * * *' });
    expect(triggerFor(6 * 3_600_000)).toEqual({ kind: 'cron', cron: '0 */6 * * *' });
    expect(triggerFor(48 * 3_600_000)).toEqual({ kind: 'cron', cron: '0 0 * * *' });
  });

  it('names the pg-boss schema after the cache schema and refuses one pg-boss cannot hold', () => {
    expect(bossSchemaFor('cacheport')).toBe('cacheport_boss');
    expect(() => bossSchemaFor('a'.repeat(46))).toThrow(/at most 50 characters/);
  });
});

describe('stored schedules', () => {
  let db: WorkerTestDb;
  beforeAll(async () => {
    db = await createWorkerTestDb('wsched');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('stores a cron schedule for intervals of a minute or more, and drops it when the interval becomes shorter', async () => {
    const { sql, schema } = db;
    const schedules = async (): Promise<{ name: string; cron: string }[]> => [
      ...(await sql<{ name: string; cron: string }[]>`SELECT name, cron FROM ${sql(`${schema}_boss`)}.schedule ORDER BY name`),
    ];

    const minutely = await startWorker({ config: workerConfig(schema, { CLEANUP_INTERVAL: '5m', EVICTION_INTERVAL: '1m' }) });
    await minutely.stop();
    expect(await schedules()).toEqual([
      { name: 'channel-retention', cron: '*/5 * * * *' },
      { name: 'lru-eviction', cron: '* * * * *' },
      { name: 'ttl-cleanup', cron: '*/5 * * * *' },
    ]);

    const fast = await startWorker({ config: workerConfig(schema, { CLEANUP_INTERVAL: '2s', EVICTION_INTERVAL: '1m' }) });
    await fast.stop();
    expect(await schedules()).toEqual([{ name: 'lru-eviction', cron: '* * * * *' }]);
  }, 60_000);
});
