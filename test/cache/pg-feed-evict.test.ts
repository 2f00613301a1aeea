/**
 * The worker's LRU evictions reach the Postgres change feed as op 'evict'
 * (the eviction transaction names itself through cacheport.change_op).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLruEviction } from '../../jobs/lru-eviction.js';
import type { ChangeEvent } from '../../src/core/port.js';
import { createPgTestPort, pollUntil, type PgTestPort } from '../postgres/helpers.js';
import { createPgClient, type Sql } from '../../src/adapters/postgres/connection.js';
import { PG_URL } from '../support/services.js';

describe('Postgres change feed and eviction', () => {
  let pg: PgTestPort;
  let sql: Sql;
  beforeAll(async () => {
    pg = await createPgTestPort();
    sql = createPgClient({ url: PG_URL, schema: pg.schema, max: 2, timeoutMs: 10_000, applicationName: 'cacheport-feed-test' });
  });
  afterAll(async () => {
    await sql?.end();
    await pg?.cleanup();
  });

  it("announces the worker's evictions as 'evict' with the evicted keys, and nothing else as evict", async () => {
    const events: ChangeEvent[] = [];
    const sub = await pg.port.changes!('evicted', (event) => events.push(event));
    await pg.port.configure('evicted', { maxEntries: 2 });
    for (let i = 1; i <= 5; i++) await pg.port.set('evicted', `k${i}`, 'v');
    await pg.port.delete('evicted', 'k5');
    const result = await runLruEviction(sql);
    expect(result.evicted).toEqual({ evicted: 2 });

    const evictedKeys = (): string[] => events.flatMap((e) => (e.type === 'change' && e.op === 'evict' ? (e.keys ?? []) : []));
    await pollUntil(
      async () => evictedKeys(),
      (keys) => keys.length === 2,
    );
    const survivors = new Set(['k1', 'k2', 'k3', 'k4'].filter((k) => !evictedKeys().includes(k)));
    for (const key of survivors) expect(await pg.port.has('evicted', key)).toBe(true);
    // The adapter's own delete stays a 'delete'.
    expect(events.some((e) => e.type === 'change' && e.op === 'delete' && (e.keys ?? []).includes('k5'))).toBe(true);
    sub.unsubscribe();
  });
});
