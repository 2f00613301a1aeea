/**
 * Test-only raw views of what a backend stored, to check what must NOT be
 * there (raw session ids) and what must still be there (lapsed presence rows
 * that no cleanup has removed).
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { BackendName } from '../support/backends.js';
import { PG_URL, REDIS_URL } from '../support/services.js';

/** Every stored key name and value (Postgres: every row of both tables as text) under `scope`. */
export async function dumpStorage(backend: BackendName, scope: string): Promise<string[]> {
  if (backend === 'postgres') {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: scope } });
    try {
      const rows = await sql<{ row: string }[]>`
        SELECT s::text AS row FROM sessions s UNION ALL SELECT p::text FROM presence p`;
      return rows.map((r) => r.row);
    } finally {
      await sql.end();
    }
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const out: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${scope}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        out.push(key);
        const type = await redis.type(key);
        if (type === 'string') out.push((await redis.get(key)) ?? '');
        if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
        if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
        if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return out;
}

/** Postgres: rows in `presence` for a channel, lapsed or not (nothing filtered). */
export async function rawPresenceRows(scope: string, channel: string): Promise<number> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: scope } });
  try {
    const rows = await sql<{ n: string }[]>`SELECT count(*)::text AS n FROM presence WHERE channel = ${channel}`;
    return Number(rows[0]?.n ?? 0);
  } finally {
    await sql.end();
  }
}

/** Postgres: relpersistence of a table in `scope` ('p' logged, 'u' unlogged). */
export async function relPersistence(scope: string, table: string): Promise<string | undefined> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ p: string }[]>`
      SELECT c.relpersistence AS p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${scope} AND c.relname = ${table}`;
    return rows[0]?.p;
  } finally {
    await sql.end();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sleeps until the wall clock passes `epochMs` (same host as the servers). */
export async function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait > 0) await sleep(wait);
}
