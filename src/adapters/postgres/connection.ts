import postgres from 'postgres';
import { SCHEMA_PATTERN } from './schema-name.js';

export interface PgConnectionOptions {
  url: string;
  /** Schema holding the cache tables; validated identifier, never user input. */
  schema: string;
  /** Pool size (PG_POOL_MAX). */
  max: number;
  /** Bound on connect and on each statement, in ms. */
  timeoutMs: number;
  applicationName?: string;
}

export type Sql = postgres.Sql<{ bigint: bigint }>;

/** What a statement runs on: the pool or a transaction (postgres.js types them apart, both can query). */
export type Queryable = postgres.ISql<{ bigint: bigint }>;

/** A piece of SQL (with its parameters) nested in a statement. */
export type SqlFragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * A bounded pool whose sessions resolve unqualified table names in the
 * configured schema, so every SQL text is fixed and schema-agnostic.
 */
export function createPgClient(options: PgConnectionOptions): Sql {
  if (!SCHEMA_PATTERN.test(options.schema)) throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
  return postgres(options.url, {
    max: options.max,
    connect_timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)),
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    prepare: true,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    connection: {
      search_path: options.schema,
      statement_timeout: options.timeoutMs,
      lock_timeout: options.timeoutMs,
      application_name: options.applicationName ?? 'cacheport',
    },
  }) as unknown as Sql;
}
