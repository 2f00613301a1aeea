/**
 * Connection budgeting: how many server connections the configured instances
 * need, against what the server allows (max_connections less the reserved
 * slots, less what other applications hold now). Startup warns when it does
 * not fit: past max_connections new connections fail with 53300, which callers
 * see as 503s under load, not at startup.
 */
import postgres from 'postgres';

/** pg-boss (3) and the cleanup pool (2) of one inline worker (jobs/worker.ts). */
export const WORKER_CONNECTIONS = 5;

export interface BudgetInput {
  /** PG_POOL_MAX: one instance's pool, shared by its WEB_CONCURRENCY processes. */
  poolMax: number;
  webConcurrency: number;
  /** CACHE_INSTANCES. */
  instances: number;
  /** WORKER=inline: each instance runs the cleanup worker. */
  inlineWorker: boolean;
  /** The pool goes through PgBouncer (DATABASE_DIRECT_URL differs from DATABASE_URL). */
  viaPooler: boolean;
}

export interface Budget {
  /** Connections one instance opens to the server itself (pool unless pooled, one LISTEN per process, worker). */
  directPerInstance: number;
  /** Server connections all instances open directly. */
  direct: number;
  /** Client connections all instances open to PgBouncer (0 without one): at most its max_client_conn. */
  poolerClients: number;
}

/** Each process's pool share, as src/cluster.ts sizes it. */
function poolPerInstance(input: BudgetInput): number {
  if (input.webConcurrency <= 1) return input.poolMax;
  return input.webConcurrency * Math.max(1, Math.floor(input.poolMax / input.webConcurrency));
}

export function connectionBudget(input: BudgetInput): Budget {
  const pool = poolPerInstance(input);
  const listeners = input.webConcurrency;
  const worker = input.inlineWorker ? WORKER_CONNECTIONS : 0;
  const directPerInstance = (input.viaPooler ? 0 : pool) + listeners + worker;
  return {
    directPerInstance,
    direct: directPerInstance * input.instances,
    poolerClients: input.viaPooler ? pool * input.instances : 0,
  };
}

export interface ServerConnections {
  maxConnections: number;
  /** superuser_reserved_connections (+ reserved_connections on PostgreSQL 16+). */
  reserved: number;
  /** Client connections of other applications now (not cacheport's, not this probe). */
  othersInUse: number;
}

/** Reads the server's limits over one short-lived connection to `directUrl`. */
export async function readServerConnections(directUrl: string, timeoutMs: number): Promise<ServerConnections> {
  const sql = postgres(directUrl, {
    max: 1,
    onnotice: () => {},
    fetch_types: false,
    connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    connection: { application_name: 'cacheport-budget' },
  });
  try {
    const [row] = await sql<{ max: number; reserved: number; others: number }[]>`
      SELECT current_setting('max_connections')::int AS max,
             current_setting('superuser_reserved_connections')::int
               + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
             (SELECT count(*)::int FROM pg_stat_activity
               WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                 AND coalesce(application_name, '') NOT LIKE 'cacheport%') AS others`;
    if (row === undefined) throw new Error('no answer to the connection budget query');
    return { maxConnections: row.max, reserved: row.reserved, othersInUse: row.others };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** The warning to log, or undefined when the budget fits. */
export function budgetWarning(budget: Budget, server: ServerConnections, instances: number): string | undefined {
  const available = server.maxConnections - server.reserved - server.othersInUse;
  if (budget.direct <= available) return undefined;
  return (
    `connection budget exceeded: ${instances} instance(s) × ${budget.directPerInstance} direct connection(s) = ${budget.direct}, ` +
    `but max_connections ${server.maxConnections} − ${server.reserved} reserved − ${server.othersInUse} held by other applications leaves ${available}; ` +
    'lower PG_POOL_MAX or WEB_CONCURRENCY, put PgBouncer in front (docs/scale-out.md), or raise max_connections'
  );
}
