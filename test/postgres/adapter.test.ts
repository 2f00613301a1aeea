import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_URL } from '../support/services.js';
import { createPgTestPort, pollUntil, type PgTestPort } from './helpers.js';

const LONG_TTL = 10 * 60 * 1000;

describe('postgres adapter specifics', () => {
  let current: PgTestPort | undefined;
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });

  async function open(readTracking: { counterFlushMs?: number; recencyIntervalMs?: number } = {}) {
    current = await createPgTestPort({ readTracking });
    return current;
  }

  it('stores a durable namespace in durable_entries and moves it back when durable is turned off', async () => {
    const { port } = await open();
    await port.set('plain', 'p', 'x');
    await port.set('dur', 'before', 'kept across the move', { tags: ['t'], contentType: 'text/plain' });
    const before = await port.get('dur', 'before');

    expect((await port.configure('dur', { durable: true })).created).toBe(true);
    await port.set('dur', 'after', 'y');
    const durableKeys = await port.sql<{ key: string }[]>`SELECT key FROM durable_entries WHERE ns = 'dur' ORDER BY key`;
    expect(durableKeys.map((r) => r.key)).toEqual(['after', 'before']);
    expect(await port.sql`SELECT 1 FROM entries WHERE ns = 'dur'`).toHaveLength(0);
    expect(await port.get('dur', 'before')).toEqual(before);
    expect((await port.stats('dur')).entries).toBe(2);

    await port.configure('dur', { durable: false });
    expect(await port.sql`SELECT 1 FROM durable_entries WHERE ns = 'dur'`).toHaveLength(0);
    const plainKeys = await port.sql<{ key: string }[]>`SELECT key FROM entries WHERE ns = 'dur' ORDER BY key`;
    expect(plainKeys.map((r) => r.key)).toEqual(['after', 'before']);
    expect(await port.get('dur', 'before')).toEqual(before);
    expect((await port.get('plain', 'p'))?.value.toString()).toBe('x');
  });

  it('flushes hit and miss counters to the namespaces table without double counting', async () => {
    const { port } = await open({ counterFlushMs: 200 });
    await port.set('cnt', 'k', 'v');
    for (let i = 0; i < 3; i++) await port.get('cnt', 'k');
    await port.get('cnt', 'missing');
    await port.getMany('cnt', ['k', 'nope']);

    expect(await port.stats('cnt')).toMatchObject({ hits: 4, misses: 2 });
    const flushed = await pollUntil(
      () => port.sql<{ hits: bigint; misses: bigint }[]>`SELECT hits, misses FROM namespaces WHERE name = 'cnt'`,
      (rows) => rows[0]?.hits === 4n && rows[0]?.misses === 2n,
    );
    expect(flushed[0]).toEqual({ hits: 4n, misses: 2n });
    expect(await port.stats('cnt')).toMatchObject({ hits: 4, misses: 2 });
    // A flushed-counters row does not make the namespace configured.
    expect((await port.describe('cnt')).configured).toBe(false);
  });

  it('does not write the row on reads; recency is touched once per interval with the summed hits', async () => {
    const { port } = await open({ recencyIntervalMs: 60 * 60 * 1000 });
    await port.set('rec', 'k', 'v');
    const row = () => port.sql<{ xmin: string; hits: bigint; accessed_at: Date }[]>`
      SELECT xmin::text AS xmin, hits, accessed_at FROM entries WHERE ns = 'rec' AND key = 'k'`;
    const [before] = await row();
    for (let i = 0; i < 10; i++) await port.get('rec', 'k');
    await port.getMany('rec', ['k', 'k']);
    const [afterReads] = await row();
    // Same row version: no read wrote it.
    expect(afterReads).toEqual(before);

    // close() flushes the interval's batch: one UPDATE adds all 12 hits.
    await (current as PgTestPort).close();
    const fresh = postgres(PG_URL, { max: 1, onnotice: () => {}, types: { bigint: postgres.BigInt } });
    try {
      const touched = await fresh.unsafe(
        `SELECT xmin::text AS xmin, hits, accessed_at FROM "${(current as PgTestPort).schema}".entries WHERE ns = 'rec' AND key = 'k'`,
      );
      expect(touched[0]?.hits).toBe(12n);
      expect(touched[0]?.xmin).not.toBe(before?.xmin);
      expect((touched[0]?.accessed_at as Date).getTime()).toBeGreaterThanOrEqual((before?.accessed_at as Date).getTime());
    } finally {
      await fresh.end();
    }
  });

  it('touches recency on its own timer', async () => {
    const { port } = await open({ recencyIntervalMs: 200 });
    await port.set('rec2', 'k', 'v');
    await port.get('rec2', 'k');
    await port.get('rec2', 'k');
    const rows = await pollUntil(
      () => port.sql<{ hits: bigint }[]>`SELECT hits FROM entries WHERE ns = 'rec2' AND key = 'k'`,
      (r) => r[0]?.hits === 2n,
    );
    expect(rows[0]?.hits).toBe(2n);
  });

  it('lists configured namespaces and namespaces holding live entries, in both tables', async () => {
    const { port } = await open();
    await port.configure('only-config', { defaultTtl: 1000 });
    await port.set('only-entries', 'a', '1');
    await port.set('only-entries', 'b', '2');
    await port.configure('durable-ns', { durable: true });
    await port.set('durable-ns', 'k', 'v');
    await port.set('gone', 'k', 'v');
    await port.drop('gone');
    await port.set('deleted', 'k', 'v');
    await port.delete('deleted', 'k');
    await port.get('never-stored', 'k'); // a miss alone does not create a namespace

    const { namespaces: infos } = await port.list();
    expect(infos.map((i) => i.name).sort()).toEqual(['durable-ns', 'only-config', 'only-entries']);
    const byName = Object.fromEntries(infos.map((i) => [i.name, i]));
    expect(byName['only-entries']?.stats.entries).toBe(2);
    expect(byName['only-entries']?.configured).toBe(false);
    expect(byName['only-config']?.config.defaultTtl).toBe(1000);
    expect(byName['durable-ns']?.stats.entries).toBe(1);
    expect(byName['durable-ns']?.config.durable).toBe(true);
  });

  it('round-trips a value holding all 256 byte values', async () => {
    const { port } = await open();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await port.set('bin', 'all', bytes, { ttl: LONG_TTL });
    expect((await port.get('bin', 'all'))?.value.equals(bytes)).toBe(true);
    await port.setMany('bin', [{ key: 'many', value: bytes }]);
    const [many] = await port.getMany('bin', ['many']);
    expect(many?.value.equals(bytes)).toBe(true);
    expect((await port.stats('bin')).bytes).toBe(512);
  });
});
