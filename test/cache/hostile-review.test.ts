/**
 * Regression tests from a hostile review of the cache layer, against the real
 * Postgres: each one reproduced a defect before its fix.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createPostgresPort, type PostgresPort } from '../../src/adapters/postgres/index.js';
import type { CachePort, ChangeEvent } from '../../src/core/port.js';
import { ValidationError } from '../../src/core/errors.js';
import { createCache } from '../../src/index.js';
import { createPgTestPort, pollUntil, sleep, type PgTestPort } from '../postgres/helpers.js';
import { PG_URL } from '../support/services.js';

/**
 * The real port, with a network's latency put back in where a test needs a race to happen in a known order:
 * `get` answers only once `readGate` opens, and feed events arrive `feedDelayMs` late.
 */
function withLatency(port: CachePort, feedDelayMs: number) {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const get: CachePort['get'] = async (ns, key) => {
    const entry = await port.get(ns, key);
    await gate;
    return entry;
  };
  const changes: NonNullable<CachePort['changes']> = (ns, onEvent) =>
    port.changes!(ns, (event: ChangeEvent) => void setTimeout(() => onEvent(event), feedDelayMs));
  const slow = new Proxy(port, {
    get(target, prop) {
      if (prop === 'get') return get;
      if (prop === 'changes') return changes;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    port: slow,
    holdReads(): void {
      gate = new Promise((resolve) => (open = resolve));
    },
    releaseReads(): void {
      open?.();
      gate = undefined;
    },
  };
}

describe('cache layer under hostile use (postgres)', () => {
  let pg: PgTestPort;
  let other: PostgresPort;
  let sql: postgres.Sql;
  beforeAll(async () => {
    pg = await createPgTestPort();
    // A second port on the same schema: another process as far as the feed and the locks are concerned.
    other = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, poolMax: 2, url: PG_URL, schema: pg.schema });
    sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await other?.close();
    await pg?.cleanup();
  });

  it("a flight that lost its lease does not write its (older) value over the new holder's", async () => {
    const a = createCache({ port: pg.port, namespace: 'lease-lost' });
    const b = createCache({ port: other, namespace: 'lease-lost' });
    const slow = a.getOrSet('k', async () => {
      await sleep(2500); // ignores its signal, as many factories do
      return 'old';
    });
    await sleep(300);
    // The lease is lost (as when the holder stalls past it): the row goes, another instance takes the key over.
    await sql.unsafe(`DELETE FROM "${pg.schema}".locks`);
    expect(await b.getOrSet('k', () => 'new')).toBe('new');
    await slow.catch(() => undefined);
    expect(await b.get('k')).toBe('new');
    await a.close();
    await b.close();
  });

  it('a namespace-wide announcement of its own writes does not make the local cache swallow a later foreign write', async () => {
    const a = createCache({ port: pg.port, namespace: 'own-wide', localCache: { maxEntries: 1000, ttl: '60s' } });
    const b = createCache({ port: other, namespace: 'own-wide' });
    await a.get('warm-up');
    await pollUntil(
      async () => (await a.get('warm-up')) ?? null,
      () => true,
      2000,
    );
    await sleep(300); // the feed is live
    // Keys long enough that the announcement falls back to "namespace changed" (no key list).
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}:${'x'.repeat(1000)}`);
    await a.setMany(keys.map((key) => ({ key, value: 1 })));
    await sleep(500); // the wide announcement arrives
    expect(await a.get(keys[0]!)).toBe(1);
    await b.set(keys[0]!, 2);
    expect(
      await pollUntil(
        () => a.get(keys[0]!),
        (v) => v === 2,
        3000,
      ),
    ).toBe(2);
    await a.close();
    await b.close();
  });

  for (const how of ['deleteByPrefix', 'invalidateTags'] as const) {
    it(`a read in flight across ${how} does not put the deleted value back in the local cache`, async () => {
      const slow = withLatency(pg.port, 400);
      const a = createCache({ port: slow.port, namespace: `inflight-${how.toLowerCase()}`, localCache: { maxEntries: 100, ttl: '60s' } });
      const b = createCache({ port: other, namespace: `inflight-${how.toLowerCase()}` });
      await a.get('warm-up');
      await sleep(1000); // the feed is live
      await b.set('p:1', 'old', { tags: ['t'] });
      await sleep(1000); // its announcement has arrived
      slow.holdReads();
      const inFlight = a.get('p:1');
      await sleep(200); // the read has its answer and waits for the gate
      expect(how === 'deleteByPrefix' ? await a.deleteByPrefix('p:') : await a.invalidateTags(['t'])).toBe(1);
      slow.releaseReads();
      expect(await inFlight).toBe('old'); // it started before the delete
      // Started after the delete completed, in the same process: must not see the deleted value.
      expect(await a.get('p:1')).toBeUndefined();
      await a.close();
      await b.close();
    });
  }

  it("a set that completes while a getOrSet factory runs is not overwritten by the factory's (older) result", async () => {
    const a = createCache({ port: pg.port, namespace: 'set-race', grace: '10m' });
    const b = createCache({ port: other, namespace: 'set-race' });
    const computing = a.getOrSet('miss', async () => (await sleep(800), 'computed'));
    await sleep(300);
    await b.set('miss', 'explicit');
    expect(await computing).toBe('computed'); // its caller still gets what it computed
    expect(await b.get('miss')).toBe('explicit');
    // A stale value's background refresh, likewise.
    await a.set('stale', 'v1', { ttl: 100 });
    await sleep(300);
    let refreshed: (() => void) | undefined;
    const done = new Promise<void>((resolve) => (refreshed = resolve));
    expect(await a.getOrSet('stale', async () => (await sleep(800), refreshed?.(), 'refreshed'), { ttl: '1h' })).toBe('v1');
    await sleep(300);
    await b.set('stale', 'explicit');
    await done;
    await sleep(300); // the refresh's write, if any, is done
    expect(await b.get('stale')).toBe('explicit');
    await a.close();
    await b.close();
  });

  it('getOrSet rejects bad ttl, grace and tags options before running the factory', async () => {
    const a = createCache({ port: pg.port, namespace: 'bad-opts' });
    let calls = 0;
    const bad = [{ ttl: -3 }, { ttl: 1.5 }, { grace: '-1s' }, { tags: 'x' }, { tags: ['ok', 5] }];
    for (const options of bad) {
      await expect(
        a.getOrSet('k', () => (calls++, 1), options as never),
        JSON.stringify(options),
      ).rejects.toThrow(ValidationError);
    }
    expect(calls).toBe(0);
    expect(a.stats().factoryCalls).toBe(0);
    expect(await a.get('k')).toBeUndefined();
    await a.close();
  });

  it('two caches of one namespace on one port: a write through one is seen at once by the other (same process)', async () => {
    const slow = withLatency(pg.port, 400);
    const options = { port: slow.port, namespace: 'two-caches', localCache: { maxEntries: 100, ttl: '60s' } };
    const one = createCache(options);
    const two = createCache(options);
    await one.get('warm-up');
    await two.get('warm-up');
    await sleep(1000); // both feeds are live
    for (const [write, expected] of [
      [() => one.set('k', 'new'), 'new'],
      [() => one.delete('k'), undefined],
      [() => one.set('p:1', 'new'), 'new'],
      [() => one.deleteByPrefix('p:'), undefined],
    ] as const) {
      const key = write.toString().includes('p:') ? 'p:1' : 'k';
      await two.set(key, 'old');
      await sleep(600); // every announcement so far has arrived
      expect(await two.get(key)).toBe('old'); // held locally
      await write();
      expect(await two.get(key), write.toString()).toBe(expected);
    }
    await one.close();
    await two.close();
  });
});
