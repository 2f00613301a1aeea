/**
 * Cache layer section: local-cache hit vs raw ioredis GET, getOrSet hit
 * through Postgres vs a raw postgres.js single-key select, and the change
 * feed delay (write in one port → event in another port's feed) p50/p99 on
 * Postgres (LISTEN/NOTIFY) and on Redis (sharded pub/sub).
 * Sequential calls (c=1) so the figures are per-call latencies. Part of
 * `npm run bench` (section `cache`); also runs on its own:
 * `npx tsx bench/sections/cache-layer.ts` (BENCH_QUICK=1 for a short run).
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { createCache } from '../../src/cache/index.js';

export interface CacheLayerSettings {
  pgUrl: string;
  redisUrl: string;
  /** A dedicated schema, dropped at the end. */
  schema: string;
  quick: boolean;
}

export interface CacheLayerResults {
  localHitUs: number;
  redisGetUs: number;
  /** redisGetUs / localHitUs (goal >= 10). */
  localVsRedis: number;
  getOrSetHitUs: number;
  pgSelectUs: number;
  /** getOrSetHitUs / pgSelectUs. */
  getOrSetVsSelect: number;
  feedDelayP50Ms: number;
  feedDelayP99Ms: number;
  redisFeedDelayP50Ms: number;
  redisFeedDelayP99Ms: number;
  feedTrials: number;
}

/**
 * Feed delay: a write through port A, its event at port B's feed. Measured from
 * the start of the write (its commit time is unknown here): an upper bound.
 * Returns the sorted delays in ms.
 */
async function feedDelays(portA: CachePort, portB: CachePort, trials: number): Promise<number[]> {
  const delays: number[] = [];
  let pending: { key: string; resolve: () => void } | undefined;
  const sub = await portB.changes('bench-feed', (event) => {
    if (event.type === 'change' && pending && event.keys?.includes(pending.key)) pending.resolve();
  });
  try {
    for (let i = 0; i < trials; i++) {
      const trialKey = `k${i}`;
      const seen = new Promise<void>((resolve) => (pending = { key: trialKey, resolve }));
      const started = performance.now();
      await portA.set('bench-feed', trialKey, 'v');
      await seen;
      delays.push(performance.now() - started);
    }
  } finally {
    sub.unsubscribe();
  }
  return delays.sort((a, b) => a - b);
}

async function perCallUs(calls: number, call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(200, calls); i++) await call(); // warm-up
  const started = performance.now();
  for (let i = 0; i < calls; i++) await call();
  return ((performance.now() - started) * 1000) / calls;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** What the report holds for this section: the figures, or why there are none. */
export type CacheLayerOutcome = { status: 'ok'; results: CacheLayerResults } | { status: 'n/a' | 'skipped'; reason: string };

export async function runCacheLayerSection(settings: CacheLayerSettings): Promise<CacheLayerResults> {
  const scale = settings.quick ? 0.2 : 1;
  await runMigrations(settings.pgUrl, settings.schema);
  const options = { ...DEFAULT_ADAPTER_OPTIONS, url: settings.pgUrl, schema: settings.schema, poolMax: 4 };
  const portA = createPostgresPort(options);
  const portB = createPostgresPort(options);
  const redis = new Redis(settings.redisUrl);
  // The schema name doubles as the Redis key prefix of the feed ports (removed with clear at the end).
  const redisOptions = { ...DEFAULT_ADAPTER_OPTIONS, url: settings.redisUrl, prefix: settings.schema };
  const redisA = createRedisPort(redisOptions);
  const redisB = createRedisPort(redisOptions);
  const sql = postgres(settings.pgUrl, { max: 1, onnotice: () => {}, connection: { search_path: settings.schema } });
  try {
    const key = 'bench:key';
    const value = { id: 42, name: 'a typical small JSON value', tags: ['a', 'b', 'c'] };
    const local = createCache({ port: portA, namespace: 'bench-local', localCache: { maxEntries: 1000, ttl: '1m' } });
    await local.set(key, value);
    while ((await local.get(key, { metadata: true }))?.source !== 'local') await new Promise((r) => setTimeout(r, 10));
    await redis.set(`${settings.schema}:${key}`, JSON.stringify(value));
    const localHitUs = await perCallUs(Math.round(200_000 * scale), () => local.get(key));
    const redisGetUs = await perCallUs(Math.round(10_000 * scale), () => redis.get(`${settings.schema}:${key}`));

    const plain = createCache({ port: portA, namespace: 'bench-plain' });
    await plain.set(key, value);
    const getOrSetHitUs = await perCallUs(Math.round(5_000 * scale), () => plain.getOrSet(key, () => value));
    const pgSelectUs = await perCallUs(
      Math.round(5_000 * scale),
      () => sql`SELECT value, content_type, expires_at FROM entries WHERE ns = ${'bench-plain'} AND key = ${key}`,
    );

    const trials = Math.round(1000 * scale);
    const delays = await feedDelays(portA, portB, trials);
    const redisDelays = await feedDelays(redisA, redisB, trials);
    await local.close();
    await plain.close();
    return {
      localHitUs,
      redisGetUs,
      localVsRedis: redisGetUs / localHitUs,
      getOrSetHitUs,
      pgSelectUs,
      getOrSetVsSelect: getOrSetHitUs / pgSelectUs,
      feedDelayP50Ms: percentile(delays, 0.5),
      feedDelayP99Ms: percentile(delays, 0.99),
      redisFeedDelayP50Ms: percentile(redisDelays, 0.5),
      redisFeedDelayP99Ms: percentile(redisDelays, 0.99),
      feedTrials: trials,
    };
  } finally {
    await redis.del(`${settings.schema}:bench:key`).catch(() => 0);
    redis.disconnect();
    await portA.close();
    await portB.close();
    await redisA.drop('bench-feed').catch(() => undefined);
    await redisA.close();
    await redisB.close();
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${settings.schema}" CASCADE`).catch(() => undefined);
    await sql.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await runCacheLayerSection({
    pgUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    schema: `bench_cache_${process.pid}`,
    quick: process.env.BENCH_QUICK === '1',
  });
  const f = (n: number) => n.toFixed(1);
  console.log(`local-cache hit ${f(results.localHitUs)} µs vs ioredis GET ${f(results.redisGetUs)} µs: ${f(results.localVsRedis)}x`);
  console.log(
    `getOrSet hit (Postgres) ${f(results.getOrSetHitUs)} µs vs postgres.js select ${f(results.pgSelectUs)} µs: ${f(results.getOrSetVsSelect)}x`,
  );
  const trials = `over ${results.feedTrials} writes`;
  const delay = (name: string, p50: number, p99: number) =>
    console.log(`${name} feed delay (write start → event) ${trials}: p50 ${f(p50)} ms, p99 ${f(p99)} ms`);
  delay('Postgres', results.feedDelayP50Ms, results.feedDelayP99Ms);
  delay('Redis', results.redisFeedDelayP50Ms, results.redisFeedDelayP99Ms);
}
