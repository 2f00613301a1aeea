import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLruEviction } from '../../jobs/lru-eviction.js';
import { runTtlCleanup } from '../../jobs/ttl-cleanup.js';
import { configureNamespace, countRows, createWorkerTestDb, insertEntries, keysOf, type WorkerTestDb } from './support.js';

let db: WorkerTestDb;

beforeAll(async () => {
  db = await createWorkerTestDb('wlru');
});

afterAll(async () => {
  await db?.drop();
});

const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `k${from + i}`);
const sorted = (keys: string[]): string[] => [...keys].sort();

describe('lru-eviction', () => {
  it('cuts a namespace over maxEntries back to its bound, keeping the most recently read keys', async () => {
    const { sql } = db;
    await configureNamespace(sql, 'capped', { maxEntries: 10 });
    // k1 was read 1 s ago, k100 100 s ago: k1..k10 are the most recent.
    await insertEntries(sql, { ns: 'capped', count: 100, accessedSecondsAgo: (i) => i, expiresInSeconds: 3600 });

    const result = await runLruEviction(sql, { batchSize: 7 });

    expect(result.evicted).toEqual({ capped: 90 });
    expect(await keysOf(sql, 'capped')).toEqual(sorted(range(1, 10)));
    // Within bounds now: a second run evicts nothing.
    expect((await runLruEviction(sql)).total).toBe(0);
  });

  it('breaks accessed_at ties first-in first-out by created_at', async () => {
    const { sql } = db;
    await configureNamespace(sql, 'ties', { maxEntries: 2 });
    await sql`
      INSERT INTO entries (ns, key, value, content_type, etag, size, created_at, accessed_at)
      SELECT 'ties', 'k' || g, '\\x00'::bytea, 'x', 'e', 1, now() - (10 - g) * interval '1 second', now() - interval '1 minute'
      FROM generate_series(1, 5) g
    `;
    await runLruEviction(sql);
    expect(await keysOf(sql, 'ties')).toEqual(['k4', 'k5']);
  });

  it('sheds least recently used entries until the namespace is within maxBytes', async () => {
    const { sql } = db;
    await configureNamespace(sql, 'bytes', { maxBytes: 55 });
    await insertEntries(sql, { ns: 'bytes', count: 20, size: 10, accessedSecondsAgo: (i) => i });
    const result = await runLruEviction(sql, { batchSize: 4 });
    expect(result.evicted).toEqual({ bytes: 15 });
    expect(await keysOf(sql, 'bytes')).toEqual(sorted(range(1, 5)));
  });

  it("never evicts live entries of an eviction 'none' namespace, though cleanup still removes its expired ones", async () => {
    const { sql } = db;
    await configureNamespace(sql, 'keep', { maxEntries: 5, eviction: 'none' });
    await insertEntries(sql, {
      ns: 'keep',
      count: 20,
      key: (i) => `live-${i}`,
      accessedSecondsAgo: (i) => 1000 + i,
      expiresInSeconds: 3600,
    });
    await insertEntries(sql, { ns: 'keep', count: 5, key: (i) => `gone-${i}`, expiresInSeconds: -1 });

    const result = await runLruEviction(sql);
    expect(result.evicted.keep).toBeUndefined();
    expect(await countRows(sql, 'entries', 'keep')).toBe(25);

    await runTtlCleanup(sql);
    expect(await countRows(sql, 'entries', 'keep')).toBe(20);
  });

  it('counts only live entries against the bound and evicts from durable_entries for a durable namespace', async () => {
    const { sql } = db;
    await configureNamespace(sql, 'durable', { maxEntries: 3, durable: true });
    await insertEntries(sql, { ns: 'durable', count: 5, table: 'durable_entries', accessedSecondsAgo: (i) => i, expiresInSeconds: 3600 });
    await insertEntries(sql, { ns: 'durable', count: 10, key: (i) => `expired-${i}`, table: 'durable_entries', expiresInSeconds: -1 });

    const result = await runLruEviction(sql);

    expect(result.evicted).toEqual({ durable: 2 });
    expect((await keysOf(sql, 'durable', 'durable_entries')).filter((k) => !k.startsWith('expired'))).toEqual(['k1', 'k2', 'k3']);
  });

  it('leaves a namespace alone while another worker holds its eviction lock, then evicts it once', async () => {
    const { sql } = db;
    await configureNamespace(sql, 'locked', { maxEntries: 4 });
    await insertEntries(sql, { ns: 'locked', count: 12, accessedSecondsAgo: (i) => i });

    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked: () => void = () => {};
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtextextended('cacheport:evict:' || current_schema() || ':' || ${'locked'}, 0))`;
      locked();
      await held;
    });
    await lockTaken;

    const blocked = await runLruEviction(sql);
    expect(blocked.skipped).toContain('locked');
    expect(await countRows(sql, 'entries', 'locked')).toBe(12);

    release();
    await holder;
    const [a, b] = await Promise.all([runLruEviction(sql, { batchSize: 2 }), runLruEviction(sql, { batchSize: 2 })]);
    expect((a.evicted.locked ?? 0) + (b.evicted.locked ?? 0)).toBe(8);
    expect(await keysOf(sql, 'locked')).toEqual(sorted(range(1, 4)));
  });
});
