/**
 * Request coalescing of single-key gets and unconditional sets, on the real
 * Postgres: every caller gets exactly its own result or error, same-key writes
 * keep their order, and concurrency actually saves statements.
 */
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendTimeoutError, BackendUnavailableError, ValidationError } from '../../src/core/errors.js';
import type { CacheEntry, SetResult } from '../../src/core/port.js';
import { PG_URL } from '../support/services.js';
import { coalescingStatsOf } from '../../src/adapters/postgres/index.js';
import { createPgTestPort, pollUntil, sleep, type PgTestPort } from './helpers.js';

const text = (entry: CacheEntry | undefined): string | undefined => entry?.value.toString('utf8');

let current: PgTestPort | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

async function open(options: Parameters<typeof createPgTestPort>[0] = {}): Promise<PgTestPort> {
  current = await createPgTestPort(options);
  return current;
}

describe('postgres request coalescing', () => {
  it('gives each of 500 concurrent gets (distinct, repeated, missing keys, two namespaces) its own result', async () => {
    const { port } = await open();
    await port.setMany(
      'co-a',
      Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `a-${i}` })),
    );
    await port.setMany(
      'co-b',
      Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `b-${i}` })),
    );
    const before = coalescingStatsOf(port).get;

    const requests = Array.from({ length: 500 }, (_, i) => ({ ns: i % 3 === 0 ? 'co-b' : 'co-a', key: `k${(i * 7) % 260}` }));
    const results = await Promise.all(requests.map((r) => port.get(r.ns, r.key)));

    results.forEach((entry, i) => {
      const { ns, key } = requests[i] as { ns: string; key: string };
      const n = Number(key.slice(1));
      const stored = ns === 'co-a' ? n < 200 : n < 50;
      expect(text(entry), `${ns}/${key}`).toBe(stored ? `${ns === 'co-a' ? 'a' : 'b'}-${n}` : undefined);
    });
    const after = coalescingStatsOf(port).get;
    expect(after.calls - before.calls).toBe(500);
    expect(after.batches - before.batches).toBeLessThan(500);
  });

  it('sends exactly one statement per get and set at concurrency 1', async () => {
    const { port } = await open();
    const before = coalescingStatsOf(port);
    for (let i = 0; i < 20; i++) {
      await port.set('co', `k${i}`, `v${i}`);
      expect(text(await port.get('co', `k${i}`))).toBe(`v${i}`);
    }
    const after = coalescingStatsOf(port);
    expect(after.set.calls - before.set.calls).toBe(20);
    expect(after.set.batches - before.set.batches).toBe(20);
    expect(after.get.calls - before.get.calls).toBe(20);
    expect(after.get.batches - before.get.batches).toBe(20);
  });

  it('applies concurrent sets of one key in issue order, each with its own etag', async () => {
    const { port } = await open();
    const others = Array.from({ length: 30 }, (_, i) => port.set('co', `other${i}`, `o${i}`));
    const same = Array.from({ length: 20 }, (_, i) => port.set('co', 'same', `v${i}`));
    const results = (await Promise.all(same)) as Extract<SetResult, { written: true }>[];
    await Promise.all(others);

    expect(results.every((r) => r.written)).toBe(true);
    expect(new Set(results.map((r) => r.etag)).size).toBe(20);
    expect(results.map((r) => r.created)).toEqual([true, ...Array<boolean>(19).fill(false)]);
    const final = await port.get('co', 'same');
    expect(text(final)).toBe('v19');
    expect(final?.etag).toBe(results[19]?.etag);
    for (let i = 0; i < 30; i++) expect(text(await port.get('co', `other${i}`))).toBe(`o${i}`);

    const stats = coalescingStatsOf(port).set;
    expect(stats.batches).toBeLessThan(stats.calls);
  });

  it('keeps per-write options (ttl, tags, content type) and the created flag in a coalesced batch', async () => {
    const { port } = await open();
    await port.set('co', 'existing', 'old');
    const writes = await Promise.all([
      port.set('co', 'existing', 'new', { tags: ['t1'] }),
      port.set('co', 'fresh', 'x', { ttl: 60_000, contentType: 'text/plain', tags: ['t1', 't2'] }),
      port.set('co', 'forever', 'y', { ttl: null }),
      ...Array.from({ length: 20 }, (_, i) => port.set('co', `f${i}`, 'z')),
    ]);
    expect(writes.slice(0, 3).map((r) => r.written && r.created)).toEqual([false, true, true]);
    const fresh = await port.get('co', 'fresh');
    expect(fresh?.contentType).toBe('text/plain');
    expect(fresh?.tags.sort()).toEqual(['t1', 't2']);
    expect(fresh?.expiresAt).toBeGreaterThan(Date.now() + 50_000);
    expect((await port.get('co', 'forever'))?.expiresAt).toBeNull();
    expect(await port.invalidateTags('co', ['t1'])).toBe(2);
    expect(await port.has('co', 'existing')).toBe(false);
  });

  it('rejects only the caller with bad input, before anything is queued', async () => {
    const { port } = await open();
    await port.set('co', 'k', 'v');
    const before = coalescingStatsOf(port).get.calls;
    const calls = [...Array.from({ length: 10 }, () => port.get('co', 'k')), port.get('co', ''), port.set('co', 'k2', 'v', { ttl: -1 })];
    const settled = await Promise.allSettled(calls);
    settled.slice(0, 10).forEach((s) => expect(s.status === 'fulfilled' && text(s.value as CacheEntry)).toBe('v'));
    for (const bad of settled.slice(10)) {
      expect(bad.status).toBe('rejected');
      expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
    }
    expect(coalescingStatsOf(port).get.calls - before).toBe(10);
  });

  it('rejects every caller of a failing batch with a typed backend error, then works again', async () => {
    const { port, schema } = await open({ poolMax: 2, timeoutMs: 10_000 });
    await port.set('co', 'k', 'v');
    expect(text(await port.get('co', 'k'))).toBe('v');

    // Hold the table, so the port's statements wait on it, then kill the backends that wait.
    const locker = postgres(PG_URL, { max: 1, onnotice: () => {} });
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    let locked = false;
    let done = false;
    try {
      const holding = locker.begin(async (tx) => {
        await tx.unsafe(`LOCK TABLE "${schema}".entries IN ACCESS EXCLUSIVE MODE`);
        locked = true;
        await waitFor(() => done);
      });
      await waitFor(() => locked);
      const before = coalescingStatsOf(port).get;
      const calls = Array.from({ length: 40 }, (_, i) => port.get('co', i % 2 === 0 ? 'k' : `missing${i}`));
      const settled = Promise.allSettled(calls);
      let finished = false;
      void settled.then(() => (finished = true));
      while (!finished) {
        await admin`
          SELECT pg_terminate_backend(l.pid) FROM pg_locks l
            JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = ${schema} AND c.relname = 'entries' AND NOT l.granted`;
        await sleep(20);
      }
      done = true;
      await holding;

      for (const outcome of await settled) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as unknown;
        expect(reason instanceof BackendUnavailableError || reason instanceof BackendTimeoutError, String(reason)).toBe(true);
      }
      const after = coalescingStatsOf(port).get;
      // A get whose connection was lost is sent once more (a read is safe to repeat), and then killed again.
      // Every get is retried at most once, so between 40 and 80 calls reached the coalescer.
      expect(after.calls - before.calls).toBeGreaterThan(40);
      expect(after.calls - before.calls).toBeLessThanOrEqual(80);
      expect(after.batches - before.batches).toBeLessThan(after.calls - before.calls);
    } finally {
      done = true;
      await locker.end();
      await admin.end();
    }
    const recovered = await pollUntil(
      () => port.get('co', 'k').then(text, () => undefined),
      (v) => v === 'v',
    );
    expect(recovered).toBe('v');
  });

  it('returns the same results with a window and with coalescing off (one namespace, repeated keys)', async () => {
    for (const coalesce of [{ windowMs: 1 }, false] as const) {
      const t = await open({ coalesce });
      await t.port.setMany(
        'co',
        Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
      );
      // One namespace with repeated keys: the `= ANY` batch path.
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => t.port.get('co', `k${i % 60}`)));
      expect(results.map(text)).toEqual(Array.from({ length: 100 }, (_, i) => (i % 60 < 50 ? `v${i % 60}` : undefined)));
      const stats = coalescingStatsOf(t.port).get;
      if (coalesce === false) expect(stats.calls).toBe(0);
      else expect(stats.batches).toBeLessThan(stats.calls);
      await t.cleanup();
      current = undefined;
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}
