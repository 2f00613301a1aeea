import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLruEviction } from '../../jobs/lru-eviction.js';
import { createPostgresPort, type PostgresPort } from '../../src/adapters/postgres/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { PG_URL } from '../support/services.js';
import { createWorkerTestDb, keysOf, waitFor, type WorkerTestDb } from './support.js';

let db: WorkerTestDb;
let port: PostgresPort;

beforeAll(async () => {
  db = await createWorkerTestDb('wadlru');
  // A tiny recency interval, so reads reach accessed_at within the test.
  port = createPostgresPort({
    ...DEFAULT_ADAPTER_OPTIONS,
    timeoutMs: 10_000,
    url: PG_URL,
    schema: db.schema,
    poolMax: 4,
    readTracking: { recencyIntervalMs: 50 },
  });
});

afterAll(async () => {
  await port?.close();
  await db?.drop();
});

describe('eviction of entries written and read through the adapter', () => {
  it('keeps the keys read most recently', async () => {
    await port.configure('reads', { maxEntries: 5 });
    for (let i = 1; i <= 20; i++) await port.set('reads', `k${i}`, `v${i}`, { ttl: 3_600_000 });
    // Let a few idle recency intervals pass first: touches must still happen after them.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const read = ['k3', 'k7', 'k11', 'k16', 'k20'];
    for (const key of read) expect(await port.get('reads', key)).toBeDefined();
    // The touch is coarse and asynchronous: wait until every read key is more recent than every unread one.
    expect(
      await waitFor(async () => {
        const [row] = await db.sql<{ n: bigint }[]>`
        SELECT count(*)::bigint AS n FROM entries
        WHERE ns = 'reads' AND key = ANY(${read}::text[])
          AND accessed_at > (SELECT max(accessed_at) FROM entries WHERE ns = 'reads' AND NOT key = ANY(${read}::text[]))
      `;
        return Number(row?.n) === read.length;
      }, 20_000),
    ).toBe(true);

    const result = await runLruEviction(db.sql);

    expect(result.evicted).toEqual({ reads: 15 });
    expect(await keysOf(db.sql, 'reads')).toEqual([...read].sort());
  }, 60_000);
});
