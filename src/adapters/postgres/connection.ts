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
/**
 * Through PgBouncer (prepare false) one statement at a time per connection.
 * postgres.js otherwise pipelines a parameterized statement (Parse/Describe,
 * then Flush, no Sync) behind a parameterless one such as the readiness
 * ping; PgBouncer hands the server connection back at the first one's
 * ReadyForQuery, the Describe's answer is lost, and the connection waits for
 * it forever (every later call on it times out). The scale test found it.
 * `max_pipeline` is a postgres.js option its type declarations leave out.
 */
function pipelining(prepare: boolean): Record<string, number> {
  return { max_pipeline: prepare ? 100 : 0 };
}

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
    ...pipelining(prepare),
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
