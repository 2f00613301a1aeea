/**
 * A throwaway PostgreSQL cluster (initdb into a temp dir, a free port on
 * 127.0.0.1, no unix socket) that fault tests may crash and restart — never
 * the shared server on 5432. Postgres refuses to run as root, so when we are
 * root every server binary runs as the OS user `postgres`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { closedTcpPort } from './contract-unreachable.js';
import type { ThrowawayServer } from './throwaway.js';

const run = promisify(execFile);

export const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Superuser `postgres`, trust auth, database `postgres` in `url`. */
export type ThrowawayPostgres = ThrowawayServer;

const asRoot = process.getuid?.() === 0;

/** Runs a Postgres binary, as `postgres` when we are root. Bounded in time. */
async function pgBinary(binary: string, args: string[], timeoutMs = 60_000): Promise<void> {
  const path = join(PG_BIN, binary);
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  await run(command, argv, { timeout: timeoutMs });
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'cp-fault-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    chownSync(root, uid, gid);
  }
  chmodSync(root, 0o700);
  const port = await closedTcpPort();
  await pgBinary('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=on -c max_connections=60`;
  let running = false;

  const server: ThrowawayPostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await pgBinary('pg_ctl', ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', options]);
      running = true;
      await waitUntilAccepting(server.url);
    },
    async crash() {
      if (!running) return;
      running = false;
      await pgBinary('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', dataDir]);
    },
    async stopClean() {
      if (!running) return;
      running = false;
      await pgBinary('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', dataDir]);
    },
    async destroy() {
      await server.crash().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return server;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** pg_ctl -w returns once the postmaster is up; recovery after a crash may still refuse connections briefly. */
async function waitUntilAccepting(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  throw new Error(`throwaway postgres at ${url} not accepting after ${timeoutMs} ms: ${String(last)}`);
}
