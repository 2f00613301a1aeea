/**
 * The server as an operator runs it behind PgBouncer in transaction pooling
 * mode: DATABASE_URL = PgBouncer, PG_PREPARE=false, DATABASE_DIRECT_URL = the
 * server, WORKER=inline. Startup migrates and runs pg-boss on the direct URL;
 * every request then goes through PgBouncer. A representative request of each
 * feature (entries, conditions, counters, batch, namespaces with a storage
 * switch, invalidation, rate limits, locks, sessions, presence) over real HTTP.
 */
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { skipWithoutPgBouncer, startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { expectProblem, jsonInit } from './helpers.js';

describe.skipIf(skipWithoutPgBouncer)('HTTP through PgBouncer (pool_mode = transaction, PG_PREPARE=false)', () => {
  const schema = uniqueName('cpbhttp').toLowerCase();
  const logLines: { msg: string; level: number; [field: string]: unknown }[] = [];
  let bouncer: PgBouncerProcess;
  let server: RunningServer;
  const call = (path: string, init?: RequestInit) => fetch(server.url + path, init);

  beforeAll(async () => {
    bouncer = await startPgBouncer({ schema });
    const config = loadConfig({
      DATABASE_URL: bouncer.url,
      DATABASE_DIRECT_URL: PG_URL,
      PG_PREPARE: 'false',
      CACHE_SCHEMA: schema,
      HOST: '127.0.0.1',
      PORT: '0',
      WORKER: 'inline',
      LOG_LEVEL: 'info',
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line));
        done();
      },
    });
    server = await startServer(config, { logger: pino({ level: 'info' }, sink) });
  });

  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}_boss" CASCADE`);
    } finally {
      await sql.end();
    }
  });

  // The feed's LISTEN on the direct URL is covered by test/contract/pgbouncer.test.ts (the server opens it on first subscribe).
  it('requests go through PgBouncer; migrations, pg-boss and the worker connect to the server itself', async () => {
    expect((await call('/health/ready')).status).toBe(200);
    const viaBouncer = await bouncer.clients();
    expect(viaBouncer).toContain('cacheport');
    expect(viaBouncer.filter((name) => name !== 'cacheport' && name !== 'cacheport-startup')).toEqual([]);
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      const [boss] = await sql<{ found: boolean }[]>`SELECT to_regclass(${`${schema}_boss.job`}) IS NOT NULL AS found`;
      expect(boss?.found).toBe(true);
    } finally {
      await sql.end();
    }
    const budget = logLines.find((line) => line.msg.startsWith('connection budget'));
    expect(budget).toMatchObject({ poolerClients: 10, directPerInstance: 6 });
  });

  it('entries: PUT, conditional PUT, GET, HEAD, DELETE', async () => {
    expect((await call('/v1/cache/e/k', { method: 'PUT', body: 'one' })).status).toBe(201);
    const read = await call('/v1/cache/e/k');
    expect(await read.text()).toBe('one');
    const etag = read.headers.get('etag') as string;
    await expectProblem(await call('/v1/cache/e/k', { method: 'PUT', body: 'x', headers: { 'if-none-match': '*' } }), 412);
    expect((await call('/v1/cache/e/k', { method: 'PUT', body: 'two', headers: { 'if-match': etag } })).status).toBe(204);
    expect((await call('/v1/cache/e/k', { method: 'HEAD' })).headers.get('content-length')).toBe('3');
    expect((await call('/v1/cache/e/k', { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await call('/v1/cache/e/k'), 404);
  });

  it('counters and a batch, concurrently (many transactions over few PgBouncer server connections)', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => call('/v1/counters/c/n', { method: 'POST' })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await (await call('/v1/cache/c/n')).text()).toBe('40');
    const batch = await call(
      '/v1/batch',
      jsonInit('POST', {
        ops: [
          { op: 'set', ns: 'b', key: 'a', value: 'A' },
          { op: 'get', ns: 'b', key: 'a' },
          { op: 'get', ns: 'b', key: 'missing' },
        ],
      }),
    );
    const { results: ops } = (await batch.json()) as { results: { status: number }[] };
    expect(ops.map((r) => r.status)).toEqual([201, 200, 404]);
  });

  it('namespace config with a storage switch (transaction + advisory xact lock), stats and tag invalidation', async () => {
    await call('/v1/cache/n/a', { method: 'PUT', body: '1', headers: { 'cache-tag': 'red' } });
    await call('/v1/cache/n/b', { method: 'PUT', body: '2', headers: { 'cache-tag': 'blue' } });
    expect((await call('/v1/namespaces/n', jsonInit('PUT', { defaultTtl: '5m', durable: true }))).status).toBeLessThan(300);
    const described = (await (await call('/v1/namespaces/n')).json()) as { config: { durable: boolean }; stats: { entries: number } };
    expect(described.config.durable).toBe(true);
    expect(described.stats.entries).toBe(2);
    const invalidated = await call('/v1/namespaces/n/invalidate', jsonInit('POST', { tags: ['red'] }));
    expect(await invalidated.json()).toEqual({ deleted: 1 });
    await expectProblem(await call('/v1/cache/n/a'), 404);
    expect(await (await call('/v1/cache/n/b')).text()).toBe('2');
  });

  it('rate limits count exactly, locks fence, sessions and presence round-trip', async () => {
    const limited = await Promise.all(
      Array.from({ length: 12 }, () => call('/v1/ratelimit', jsonInit('POST', { key: 'rl', limit: 5, window: '1h' }))),
    );
    expect(limited.filter((r) => r.status === 200)).toHaveLength(5);
    expect(limited.filter((r) => r.status === 429)).toHaveLength(7);

    const lease = (await (await call('/v1/locks/job', jsonInit('POST', { ttl: '30s' }))).json()) as { token: string; fence: number };
    await expectProblem(await call('/v1/locks/job', jsonInit('POST', { ttl: '30s' })), 409);
    expect((await call('/v1/locks/job', { method: 'DELETE', headers: { 'lock-token': lease.token } })).status).toBe(204);
    const next = (await (await call('/v1/locks/job', jsonInit('POST', { ttl: '30s' }))).json()) as { fence: number };
    expect(next.fence).toBeGreaterThan(lease.fence);

    const session = (await (await call('/v1/sessions', jsonInit('POST', { subject: 'ann', data: { a: 1 } }))).json()) as { id: string };
    expect(((await (await call(`/v1/sessions/${session.id}`)).json()) as { data: unknown }).data).toEqual({ a: 1 });

    expect((await call('/v1/presence/room/ann', jsonInit('PUT', { ttl: '60s' }))).status).toBe(204);
    expect(((await (await call('/v1/presence/room')).json()) as { count: number }).count).toBe(1);
  });
});
