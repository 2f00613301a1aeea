/**
 * Through PgBouncer in transaction mode the client sends no search_path (the
 * pooler refuses it as a startup parameter); the pooler's connect_query sets
 * it on every server connection. A missing or wrong connect_query would make
 * every statement fail with "relation does not exist", so startup checks it once.
 */
import type { Sql } from './connection.js';

export class PoolerSessionError extends Error {
  override name = 'PoolerSessionError';
}

/** Throws PoolerSessionError (one line: cause and fix) unless sessions on `sql` resolve tables in `schema`. */
export async function checkPoolerSession(sql: Sql, schema: string): Promise<void> {
  const [row] = await sql<{ schema: string | null; search_path: string }[]>`
    SELECT current_schema() AS schema, current_setting('search_path') AS search_path`;
  if (row?.schema === schema) return;
  throw new PoolerSessionError(
    `PG_PREPARE=false: sessions on DATABASE_URL resolve tables in ${row?.schema === null || row === undefined ? 'no schema' : `schema "${row.schema}"`} ` +
      `(search_path ${JSON.stringify(row?.search_path ?? '')}), not CACHE_SCHEMA "${schema}"; ` +
      `set connect_query = 'SET search_path = ${schema}' on PgBouncer's database entry (docs/scale-out.md), ` +
      'or drop PG_PREPARE=false when DATABASE_URL is the server itself',
  );
}
