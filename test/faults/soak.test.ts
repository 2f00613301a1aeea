/**
 * Bounded soak: 60 s of mixed get/set/incr/ratelimit/lock traffic at c=32
 * over HTTP against the real server (child process, throwaway Postgres so
 * every connection on it is ours). Ends with zero unexpected errors, RSS
 * growth under 50 MB after warm-up, and connections back to idle.
 */
import { readdirSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/fault-postgres.js';
import { GC_PRELOAD_ARGS, startChildServer, type ChildServer } from '../support/fault-server.js';

const SOAK_MS = 60_000;
/** JIT, pools and caches settle in the first seconds; growth after this point would be a leak. */
const WARM_UP_MS = 15_000;
const CONCURRENCY = 32;
const POOL_MAX = 10;
const MAX_RSS_GROWTH = 50 * 1024 * 1024;

const json = (method: string, value: unknown): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

interface Op {
  name: string;
  run(server: ChildServer, worker: number, i: number): Promise<number[]>;
}

/** Each op returns the statuses it got; `expected` says which ones are fine. */
const OPS: { op: Op; expected: number[] }[] = [
  {
    expected: [200, 404],
    op: { name: 'get', run: async (s, w, i) => [(await drain(s.fetch(`/v1/cache/soak/k${(w * 31 + i) % 500}`))).status] },
  },
  {
    expected: [201, 204],
    op: {
      name: 'set',
      run: async (s, w, i) => [
        (await drain(s.fetch(`/v1/cache/soak/k${(w * 17 + i) % 500}?ttl=30s`, { method: 'PUT', body: `value ${w} ${i} `.repeat(20) })))
          .status,
      ],
    },
  },
  {
    expected: [200],
    op: { name: 'incr', run: async (s, _w, i) => [(await drain(s.fetch(`/v1/counters/soak/c${i % 20}`, json('POST', { by: 1 })))).status] },
  },
  {
    expected: [200, 429],
    op: {
      name: 'ratelimit',
      run: async (s, w) => [(await drain(s.fetch('/v1/ratelimit', json('POST', { key: `rl${w % 8}`, limit: 50, window: '1s' })))).status],
    },
  },
  {
    expected: [201, 204, 409],
    op: {
      name: 'lock',
      async run(s, w) {
        const acquired = await s.fetch(`/v1/locks/soak${w % 4}`, json('POST', { ttl: '10s' }));
        if (acquired.status !== 201) return [(await drain(Promise.resolve(acquired))).status];
        const { token } = (await acquired.json()) as { token: string };
        const released = await drain(s.fetch(`/v1/locks/soak${w % 4}`, { method: 'DELETE', headers: { 'lock-token': token } }));
        return [201, released.status];
      },
    },
  },
];

async function drain(response: Promise<Response>): Promise<Response> {
  const r = await response;
  await r.arrayBuffer();
  return r;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe('soak: 60 s mixed load at c=32 on postgres', () => {
  let pg: ThrowawayPostgres;
  let server: ChildServer;
  let admin: postgres.Sql;

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    // V8 grows its heap lazily under load (heapTotal swings by ~100 MB between major GCs), so RSS
    // is compared right after forced full GCs: what the server retains, not what V8 has yet to collect.
    server = await startChildServer(
      { DATABASE_URL: pg.url, CACHE_SCHEMA: 'cp_soak', PG_POOL_MAX: String(POOL_MAX) },
      30_000,
      GC_PRELOAD_ARGS,
    );
    admin = postgres(pg.url, { max: 1, onnotice: () => {}, connection: { application_name: 'soak-observer' } });
  }, 120_000);

  afterAll(async () => {
    await admin?.end({ timeout: 2 });
    await server?.stop();
    await pg?.destroy();
  }, 60_000);

  async function cacheportConnections(): Promise<{ total: number; busy: number }> {
    const [row] = await admin<{ total: number; busy: number }[]>`
      select count(*)::int as total, (count(*) filter (where state is distinct from 'idle'))::int as busy
      from pg_stat_activity where application_name = 'cacheport'`;
    return row as { total: number; busy: number };
  }

  it('no unexpected errors, bounded RSS growth, connections back to idle', async () => {
    expect((await drain(server.fetch('/v1/cache/soak/first', { method: 'PUT', body: 'x' }))).status).toBe(201);
    const fdsBefore = openFds(server.pid);
    const unexpected = new Map<string, number>();
    const counts = new Map<string, number>();
    const started = Date.now();
    // Every 5 s: force a full GC in the server and read its RSS (what it retains).
    const retainedMb: number[] = [];
    let rssAfterWarmUp: number | undefined;
    const sampling = (async () => {
      while (Date.now() - started < SOAK_MS - 5000) {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        const rss = await server.rssAfterGc();
        retainedMb.push(Math.round(rss / 1048576));
        if (rssAfterWarmUp === undefined && Date.now() - started >= WARM_UP_MS) rssAfterWarmUp = rss;
      }
    })();

    const loops = Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = 0; Date.now() - started < SOAK_MS; i++) {
        const { op, expected } = OPS[(worker + i) % OPS.length] as (typeof OPS)[number];
        counts.set(op.name, (counts.get(op.name) ?? 0) + 1);
        try {
          for (const status of await op.run(server, worker, i)) {
            if (!expected.includes(status)) unexpected.set(`${op.name} ${status}`, (unexpected.get(`${op.name} ${status}`) ?? 0) + 1);
          }
        } catch (error) {
          const key = `${op.name} ${(error as Error).message}`;
          unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
        }
      }
    });
    await Promise.all([...loops, sampling]);
    const rssAtEnd = await server.rssAfterGc();

    expect(Object.fromEntries(unexpected)).toEqual({});
    for (const { op } of OPS) expect(counts.get(op.name) ?? 0, op.name).toBeGreaterThan(100);
    expect(rssAfterWarmUp).toBeDefined();
    const growth = rssAtEnd - (rssAfterWarmUp as number);
    expect(growth, `RSS after GC, MB every 5 s: ${retainedMb.join(' ')}; at end ${Math.round(rssAtEnd / 1048576)}`).toBeLessThan(
      MAX_RSS_GROWTH,
    );
    expect(server.alive()).toBe(true);

    // Back to idle: no statement left running, the pool within its bound, no HTTP or DB sockets leaked.
    let connections = await cacheportConnections();
    const deadline = Date.now() + 10_000;
    while (connections.busy > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      connections = await cacheportConnections();
    }
    expect(connections.busy).toBe(0);
    expect(connections.total).toBeLessThanOrEqual(POOL_MAX);
    // Client keep-alive sockets close with the fetch agent's idle timeout; the server's own fds must settle.
    let fds = openFds(server.pid);
    const fdDeadline = Date.now() + 15_000;
    while (fds > fdsBefore + POOL_MAX + 2 && Date.now() < fdDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      fds = openFds(server.pid);
    }
    expect(fds, `fds ${fdsBefore} before, ${fds} after`).toBeLessThanOrEqual(fdsBefore + POOL_MAX + 2);
  }, 150_000);
});
