import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTtlCleanup } from '../../jobs/ttl-cleanup.js';
import { runLruEviction } from '../../jobs/lru-eviction.js';
import { startWorker } from '../../jobs/worker.js';
import { registry } from '../../src/metrics.js';
import {
  configureNamespace,
  countRows,
  createWorkerTestDb,
  insertEntries,
  keysOf,
  waitFor,
  workerConfig,
  type WorkerTestDb,
} from './support.js';

let db: WorkerTestDb;

beforeAll(async () => {
  db = await createWorkerTestDb('wconc');
});

afterAll(async () => {
  await db?.drop();
});

async function expiredTotal(): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'cacheport_cleanup_rows_expired_total');
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

const topKeys = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${i + 1}`).sort();

describe('several cleaners at once', () => {
  it('concurrent direct runs share the work without double-deleting, deadlocking or over-evicting', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'direct', count: 20_000, key: (i) => `x${i}`, expiresInSeconds: -1 });
    await configureNamespace(sql, 'direct-cap', { maxEntries: 50 });
    await insertEntries(sql, { ns: 'direct-cap', count: 1000, accessedSecondsAgo: (i) => i });

    const cleanups = await Promise.all([1, 2, 3, 4].map(() => runTtlCleanup(sql, { batchSize: 500 })));
    const evictions = await Promise.all([1, 2, 3].map(() => runLruEviction(sql, { batchSize: 100 })));

    expect(cleanups.reduce((sum, r) => sum + r.deleted.entries, 0)).toBe(20_000);
    expect(evictions.reduce((sum, r) => sum + (r.evicted['direct-cap'] ?? 0), 0)).toBe(950);
    expect(await countRows(sql, 'entries', 'direct')).toBe(0);
    expect(await keysOf(sql, 'direct-cap')).toEqual(topKeys(50));
  }, 60_000);

  it('two workers on the same schema clean and evict exactly once and both stop cleanly', async () => {
    const { sql, schema } = db;
    await insertEntries(sql, { ns: 'two', count: 50_000, key: (i) => `x${i}`, expiresInSeconds: -1 });
    await configureNamespace(sql, 'two-cap', { maxEntries: 100 });
    await insertEntries(sql, { ns: 'two-cap', count: 5000, accessedSecondsAgo: (i) => i });
    const expiredBefore = await expiredTotal();

    const config = workerConfig(schema);
    const [a, b] = await Promise.all([
      startWorker({ config, pollingIntervalSeconds: 0.5, batchSize: 1000 }),
      startWorker({ config, pollingIntervalSeconds: 0.5, batchSize: 1000 }),
    ]);
    let stopped = false;
    try {
      expect(
        await waitFor(async () => (await countRows(sql, 'entries', 'two')) === 0 && (await countRows(sql, 'entries', 'two-cap')) <= 100),
      ).toBe(true);
      // Both workers' runs feed one process-wide counter: each row counted once.
      expect((await expiredTotal()) - expiredBefore).toBe(50_000);
      expect(await keysOf(sql, 'two-cap')).toEqual(topKeys(100));
      await Promise.all([a.stop(), b.stop()]);
      stopped = true;
    } finally {
      if (!stopped) await Promise.allSettled([a.stop(), b.stop()]);
    }
    const failed = await sql`SELECT name, output FROM ${sql(`${schema}_boss`)}.job WHERE state = 'failed'`;
    expect(failed).toEqual([]);
    // Nothing left running once both have stopped.
    const active = await sql`SELECT name FROM ${sql(`${schema}_boss`)}.job WHERE state = 'active'`;
    expect(active).toEqual([]);
  }, 120_000);
});
