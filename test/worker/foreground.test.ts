import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTtlCleanup } from '../../jobs/ttl-cleanup.js';
import { createPostgresPort, type PostgresPort } from '../../src/adapters/postgres/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { PG_URL } from '../support/services.js';
import { countRows, createWorkerTestDb, insertEntries, type WorkerTestDb } from './support.js';

let db: WorkerTestDb;
let port: PostgresPort;

beforeAll(async () => {
  db = await createWorkerTestDb('wfg');
  // Generous timeout: the machine is shared; this test is about errors, not latency.
  port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 10_000, url: PG_URL, schema: db.schema, poolMax: 4 });
});

afterAll(async () => {
  await port?.close();
  await db?.drop();
});

describe('cleanup under foreground load', () => {
  it('removes 100,000 expired rows while a loop of gets runs, with no foreground error', async () => {
    const { sql } = db;
    await insertEntries(sql, { ns: 'fg', count: 100_000, key: (i) => `old-${i}`, expiresInSeconds: -1 });
    for (let i = 0; i < 200; i++) await port.set('fg', `hot-${i}`, `value-${i}`, { ttl: 3_600_000 });

    let cleaning = true;
    const errors: unknown[] = [];
    let reads = 0;
    const foreground = (async () => {
      let i = 0;
      while (cleaning) {
        i++;
        try {
          const hot = await port.get('fg', `hot-${i % 200}`);
          if (hot === undefined) errors.push(new Error(`hot-${i % 200} missing`));
          // Expired keys read as absent whether or not cleanup has reached them yet.
          if ((await port.get('fg', `old-${((i * 7919) % 100_000) + 1}`)) !== undefined) errors.push(new Error('expired entry returned'));
          reads += 2;
        } catch (error) {
          errors.push(error);
        }
      }
    })();

    try {
      const result = await runTtlCleanup(sql, { timeBudgetMs: 120_000 });
      expect(result.complete).toBe(true);
      expect(result.deleted.entries).toBe(100_000);
    } finally {
      cleaning = false;
      await foreground;
    }

    expect(errors).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(await countRows(sql, 'entries', 'fg')).toBe(200);
  }, 180_000);
});
