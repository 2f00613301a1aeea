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
  /**
   * false: `url` is PgBouncer in transaction pooling mode (PG_PREPARE=false).
   * Each transaction may run on another server connection, so nothing may
   * outlive one: no named prepared statements, and no startup parameters
   * (PgBouncer refuses search_path, statement_timeout and lock_timeout with
   * "unsupported startup parameter"); its database entry sets them instead
   * (connect_query, see docs/scale-out.md). Default true.
   */
  prepare?: boolean;
}

export type Sql = postgres.Sql<{ bigint: bigint }>;

/** What a statement runs on: the pool or a transaction (postgres.js types them apart, both can query). */
export type Queryable = postgres.ISql<{ bigint: bigint }>;

/** A piece of SQL (with its parameters) nested in a statement. */
export type SqlFragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * A bounded pool whose sessions resolve unqualified table names in the
 * configured schema, so every SQL text is fixed and schema-agnostic.
 * Through PgBouncer (prepare false) the pooler's connect_query sets the
 * schema and the timeouts; every call is still bounded by `timeoutMs` here.
 */
export function createPgClient(options: PgConnectionOptions): Sql {
  if (!SCHEMA_PATTERN.test(options.schema)) throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
  const prepare = options.prepare ?? true;
  const applicationName = options.applicationName ?? 'cacheport';
  return postgres(options.url, {
    max: options.max,
    connect_timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)),
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    prepare,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    // application_name is one of the few parameters PgBouncer passes on.
    connection: prepare
      ? {
          search_path: options.schema,
          statement_timeout: options.timeoutMs,
          lock_timeout: options.timeoutMs,
          application_name: applicationName,
        }
      : { application_name: applicationName },
  }) as unknown as Sql;
}
