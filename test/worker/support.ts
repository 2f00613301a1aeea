/**
 * Worker test helpers: a migrated schema per test file, raw-SQL fixtures
 * (so the tests state accessed_at / expires_at exactly), and a cleanup that
 * drops the schema and its pg-boss schema.
 */
import postgres from 'postgres';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { createPgClient, type Sql } from '../../src/adapters/postgres/connection.js';
import { loadConfig, type Config } from '../../src/config.js';
import { PG_URL, uniqueName } from '../support/services.js';

export interface WorkerTestDb {
  schema: string;
  sql: Sql;
  drop(): Promise<void>;
}

export async function createWorkerTestDb(kind: string): Promise<WorkerTestDb> {
  const schema = uniqueName(kind).toLowerCase();
  await runMigrations(PG_URL, schema);
  const sql = createPgClient({ url: PG_URL, schema, max: 4, timeoutMs: 60_000, applicationName: 'cacheport-worker-test' });
  return {
    schema,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}_boss" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

export function workerConfig(schema: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: PG_URL,
    CACHE_SCHEMA: schema,
    LOG_LEVEL: 'silent',
    CLEANUP_INTERVAL: '1s',
    EVICTION_INTERVAL: '1s',
    ...env,
  });
}

export interface EntryRows {
  ns: string;
  count: number;
  /** Key of row i (1-based). */
  key?: (i: number) => string;
  /** Seconds from now; negative → already expired; null → no expiry. */
  expiresInSeconds?: number | null;
  /** Seconds ago the row was last read; row i gets `accessedSecondsAgo(i)`. */
  accessedSecondsAgo?: (i: number) => number;
  size?: number;
  table?: 'entries' | 'durable_entries';
}

/** Inserts `count` rows in one statement (generate_series), values as parameters. */
export async function insertEntries(sql: Sql, rows: EntryRows): Promise<void> {
  const keys = Array.from({ length: rows.count }, (_, i) => (rows.key ?? ((n: number) => `k${n}`))(i + 1));
  const ages = Array.from({ length: rows.count }, (_, i) => rows.accessedSecondsAgo?.(i + 1) ?? 0);
  const expires = rows.expiresInSeconds === undefined ? null : rows.expiresInSeconds;
  const size = rows.size ?? 1;
  await sql`
    INSERT INTO ${sql(rows.table ?? 'entries')} (ns, key, value, content_type, etag, size, expires_at, accessed_at)
    SELECT ${rows.ns}, k, '\\x00'::bytea, 'application/octet-stream', 'e', ${size},
      CASE WHEN ${expires}::float8 IS NULL THEN NULL ELSE now() + ${expires}::float8 * interval '1 second' END,
      now() - age * interval '1 second'
    FROM unnest(${keys}::text[], ${ages}::float8[]) AS t(k, age)
  `;
}

export async function countRows(sql: Sql, table: string, ns?: string): Promise<number> {
  const [row] =
    ns === undefined
      ? await sql<{ n: bigint }[]>`SELECT count(*)::bigint AS n FROM ${sql(table)}`
      : await sql<{ n: bigint }[]>`SELECT count(*)::bigint AS n FROM ${sql(table)} WHERE ns = ${ns}`;
  return Number(row?.n ?? 0n);
}

export async function keysOf(sql: Sql, ns: string, table = 'entries'): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`SELECT key FROM ${sql(table)} WHERE ns = ${ns} ORDER BY key`;
  return rows.map((r) => r.key);
}

export async function configureNamespace(
  sql: Sql,
  name: string,
  bounds: { maxEntries?: number; maxBytes?: number; eviction?: 'lru' | 'none'; durable?: boolean },
): Promise<void> {
  await sql`
    INSERT INTO namespaces (name, configured, max_entries, max_bytes, eviction, durable)
    VALUES (${name}, true, ${bounds.maxEntries ?? null}, ${bounds.maxBytes ?? null}, ${bounds.eviction ?? 'lru'}, ${bounds.durable ?? false})
  `;
}

/** Polls `check` until it returns true or `timeoutMs` passes (generous: the machine is shared). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 45_000, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}
