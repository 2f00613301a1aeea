/**
 * Baseline A: what postgres.js alone does for the same work, on an UNLOGGED
 * table of the same shape as `entries` (same columns, keys and indexes),
 * prepared statements, same pool settings as the adapter.
 */
import { randomUUID } from 'node:crypto';
import { createPgClient, type Sql } from '../../src/adapters/postgres/connection.js';
import type { Operation } from '../lib/closed-loop.js';
import { BENCH_TTL_MS, type PortOpName } from '../lib/port-ops.js';
import type { Workload } from '../lib/workload.js';

export interface BaselineOp {
  label: string;
  op: Operation;
  /** Reference only: reuse the measurement of this op instead of running it again. */
  reuse?: PortOpName;
}

export interface RawPostgres {
  ops: Partial<Record<PortOpName, BaselineOp>>;
  close(): Promise<void>;
}

const CONTENT_TYPE = 'application/octet-stream';

/** Creates and fills bench_raw in the (already migrated) bench schema. */
export async function prepareRawPostgresTable(sql: Sql, ns: string, w: Workload): Promise<void> {
  await sql`DROP TABLE IF EXISTS bench_raw`;
  await sql`CREATE UNLOGGED TABLE bench_raw (LIKE entries INCLUDING ALL)`;
  const keys = Array.from({ length: w.keyCount }, (_, i) => w.key(i));
  await sql`
    INSERT INTO bench_raw (ns, key, value, content_type, etag, size)
    SELECT ${ns}, k, ${w.value}, ${CONTENT_TYPE}, md5(k), ${w.value.length}
    FROM unnest(${keys}::text[]) AS k`;
  await sql`ANALYZE bench_raw`;
}

export function createRawPostgres(
  options: { url: string; schema: string; poolMax: number; timeoutMs: number },
  ns: string,
  w: Workload,
  batchSize: number,
): RawPostgres {
  const sql: Sql = createPgClient({
    url: options.url,
    schema: options.schema,
    max: options.poolMax,
    timeoutMs: options.timeoutMs,
    applicationName: 'cacheport-bench-raw',
  });
  const expiresAt = (): Date => new Date(Date.now() + BENCH_TTL_MS);

  const get: Operation = () => sql`
    SELECT value, content_type, etag, expires_at, tags FROM bench_raw
    WHERE ns = ${ns} AND key = ${w.randomKey()} AND (expires_at IS NULL OR expires_at > now())`;

  const set: Operation = () => sql`
    INSERT INTO bench_raw (ns, key, value, content_type, etag, size, expires_at)
    VALUES (${ns}, ${w.randomKey()}, ${w.value}, ${CONTENT_TYPE}, ${randomUUID()}, ${w.value.length}, ${expiresAt()})
    ON CONFLICT (ns, key) DO UPDATE SET
      value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
      size = excluded.size, expires_at = excluded.expires_at, tags = excluded.tags, updated_at = now()`;

  const getMany: Operation = () => sql`
    SELECT key, value, content_type, etag, expires_at, tags FROM bench_raw
    WHERE ns = ${ns} AND key = ANY(${w.randomKeys(batchSize)}::text[]) AND (expires_at IS NULL OR expires_at > now())`;

  const setMany: Operation = () => {
    const at = expiresAt();
    const rows = w.randomKeys(batchSize).map((key) => ({
      ns,
      key,
      value: w.value,
      content_type: CONTENT_TYPE,
      etag: randomUUID(),
      size: w.value.length,
      expires_at: at,
    }));
    return sql`
      INSERT INTO bench_raw ${sql(rows, 'ns', 'key', 'value', 'content_type', 'etag', 'size', 'expires_at')}
      ON CONFLICT (ns, key) DO UPDATE SET
        value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
        size = excluded.size, expires_at = excluded.expires_at, tags = excluded.tags, updated_at = now()`;
  };

  // Counters as decimal text in the value column, like the adapter's.
  const increment: Operation = () => sql`
    INSERT INTO bench_raw (ns, key, value, content_type, etag, size, expires_at)
    VALUES (${ns}, ${w.randomCounterKey()}, convert_to('1', 'UTF8'), 'text/plain', ${randomUUID()}, 1, ${expiresAt()})
    ON CONFLICT (ns, key) DO UPDATE SET
      value = convert_to((convert_from(bench_raw.value, 'UTF8')::bigint + 1)::text, 'UTF8'),
      etag = excluded.etag, updated_at = now()
    RETURNING value`;

  return {
    ops: {
      get: { label: 'SELECT 1 row', op: get },
      set: { label: 'upsert 1 row', op: set },
      getMany: { label: 'SELECT = ANY(64)', op: getMany },
      setMany: { label: 'upsert 64 rows', op: setMany },
      increment: { label: 'upsert +1', op: increment },
      // No raw equivalent: compared with one single-row write round trip.
      rateLimit: { label: 'upsert 1 row (ref)', op: set, reuse: 'set' },
      lock: { label: 'upsert 1 row (ref)', op: set, reuse: 'set' },
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
