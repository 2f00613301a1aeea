/**
 * A real PgBouncer (the Debian binary) in transaction pooling mode, started
 * per test backend on a free port in a temp directory and stopped after: the
 * topology of docs/scale-out.md. Its one database entry points at the test
 * server and, like a production entry, sets the schema and the timeouts with
 * connect_query (clients may not send them as startup parameters).
 *
 * A missing binary skips these tests locally; with CI=true it fails them.
 */
import { canConnect, killOnExit } from './processes.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../src/free-port.js';
import { type AdapterOptions, DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { SCHEMA_PATTERN } from '../../src/adapters/postgres/schema-name.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import type { BackendFactory } from './backends.js';
import { dropSchema, portFamily } from './port-family.js';
import { PG_URL, uniqueName } from './services.js';

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

/** Skip (locally) when the binary is missing; under CI=true the tests run and fail instead. */
export const skipWithoutPgBouncer = !existsSync(PGBOUNCER_BIN) && process.env.CI !== 'true';

export interface PgBouncerOptions {
  /** search_path set on every server connection (connect_query). */
  schema: string;
  /** statement_timeout and lock_timeout set on every server connection, in ms. */
  timeoutMs?: number;
  /** Server connections per database/user pair (default_pool_size; default 4). */
  poolSize?: number;
}

export interface PgBouncerProcess {
  /** postgres:// URL of PgBouncer, same database and user as PG_URL. */
  url: string;
  port: number;
  /** application_name of every client connected to the database now (admin console SHOW CLIENTS). */
  clients(): Promise<string[]>;
  /** What PgBouncer logged so far (for failure messages). */
  log(): string;
  /** PgBouncer goes away (SIGTERM: immediate shutdown, SIGKILL after 5 s); the port stays reserved for restart. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same configuration. */
  restart(): Promise<void>;
  /** kill() and remove the temp directory. Idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const START_TIMEOUT_MS = 10_000;

/** [major, minor] of the binary, e.g. [1, 18]. */
function pgbouncerVersion(): [number, number] {
  const match = /PgBouncer (\d+)\.(\d+)/.exec(execFileSync(PGBOUNCER_BIN, ['--version'], { encoding: 'utf8' }));
  if (match === null) throw new Error(`${PGBOUNCER_BIN} --version: no version found`);
  return [Number(match[1]), Number(match[2])];
}

/** pgbouncer.ini values are single-quoted; the values here come from PG_URL and the test's own names. */
function quoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerProcess> {
  if (!existsSync(PGBOUNCER_BIN))
    throw new Error(`pgbouncer not found at ${PGBOUNCER_BIN} (Debian package pgbouncer; or set PGBOUNCER_BIN)`);
  // The schema goes into connect_query as an identifier: only valid CACHE_SCHEMA names.
  if (!SCHEMA_PATTERN.test(options.schema)) throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
  const target = new URL(PG_URL);
  const database = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  const user = decodeURIComponent(target.username) || 'root';
  const timeoutMs = options.timeoutMs ?? DEFAULT_ADAPTER_OPTIONS.timeoutMs;
  const [major, minor] = pgbouncerVersion();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cp-pgbouncer-'));
  // PgBouncer refuses to run as root; as root it drops to `nobody`, who must read these files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const connectQuery = `SET search_path = ${options.schema}; SET statement_timeout = ${timeoutMs}; SET lock_timeout = ${timeoutMs}`;
  const server = [`host=${target.hostname}`, `port=${target.port || '5432'}`, `dbname=${database}`, `user=${user}`];
  if (target.password !== '') server.push(`password=${decodeURIComponent(target.password)}`);
  const ini = [
    '[databases]',
    `${database} = ${server.join(' ')} connect_query=${quoted(connectQuery)}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    // The admin console (database "pgbouncer"), for SHOW CLIENTS.
    `admin_users = ${user}`,
    `default_pool_size = ${options.poolSize ?? 4}`,
    // 1.21+ can carry prepared statements (1.22+ by default); off, so these tests see what 1.18 does.
    // (1.18 refuses the unknown setting.)
    ...(major > 1 || minor >= 21 ? ['max_prepared_statements = 0'] : []),
    'max_client_conn = 200',
    'logfile =',
    'pidfile =',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), ini, { mode: 0o644 });
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 });

  let output = '';
  let child: ChildProcess | undefined;

  /** Sends SIGTERM (immediate shutdown) and waits for the exit; SIGKILL after STOP_GRACE_MS. */
  const kill = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGTERM');
    const killTimer = setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(killTimer);
  };

  const spawnAndWait = async (): Promise<void> => {
    const started = spawn(PGBOUNCER_BIN, [...(asRoot ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    killOnExit(started);
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(port))) {
      if (started.exitCode !== null || started.signalCode !== null || Date.now() > deadline) {
        await kill();
        throw new Error(`pgbouncer did not start on port ${port}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    await spawnAndWait();
  } catch (error) {
    await stop();
    throw error;
  }
  const url = new URL(PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const clients = async (): Promise<string[]> => {
    const admin = new URL(url);
    admin.pathname = '/pgbouncer';
    // The admin console speaks only the simple query protocol.
    const sql = postgres(admin.toString(), { max: 1, prepare: false, fetch_types: false, onnotice: () => {} });
    try {
      const rows = await sql.unsafe<{ database: string; application_name: string }[]>('SHOW CLIENTS').simple();
      return rows.filter((row) => row.database === database).map((row) => row.application_name);
    } finally {
      await sql.end({ timeout: 1 });
    }
  };
  return {
    url: url.toString(),
    port,
    clients,
    log: () => output,
    kill,
    restart: async () => {
      await kill();
      await spawnAndWait();
    },
    stop,
  };
}

/**
 * The Postgres adapter through PgBouncer, as PG_PREPARE=false and
 * DATABASE_DIRECT_URL configure it: the pool on PgBouncer without prepared
 * statements; migrations and the change feed's LISTEN on the server itself.
 */
export const pgbouncerFactory: BackendFactory = {
  name: 'postgres',
  async create(options = {}) {
    const schema = uniqueName('cpbouncer').toLowerCase();
    await runMigrations(PG_URL, schema);
    const timeoutMs = options.timeoutMs ?? DEFAULT_ADAPTER_OPTIONS.timeoutMs;
    const bouncer = await startPgBouncer({ schema, timeoutMs });
    const make = (more: Partial<AdapterOptions>) =>
      createPostgresPort({
        ...DEFAULT_ADAPTER_OPTIONS,
        ...more,
        url: bouncer.url,
        directUrl: PG_URL,
        prepare: false,
        schema,
        poolMax: 4,
      });
    return portFamily(make, options, schema, async () => {
      await bouncer.stop();
      await dropSchema(schema);
    });
  },
};
