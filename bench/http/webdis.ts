/**
 * Webdis (HTTP front for Redis, Debian package `webdis`) as a reference
 * point: started on a free 127.0.0.1 port against the local Redis with a
 * generated config, stopped and its files removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/free-port.js';
import type { ChildServer } from './child-server.js';

const START_TIMEOUT_MS = 10_000;

/** Path of the webdis binary, or undefined when it is not installed. */
export function findWebdis(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v webdis'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

async function waitUntilServing(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(`${url}/PING`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`webdis did not answer ${url}/PING within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startWebdis(binary: string, redisUrl: string): Promise<ChildServer> {
  const redis = new URL(redisUrl);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'cpbench-webdis-'));
  const configPath = join(dir, 'webdis.json');
  await writeFile(
    configPath,
    JSON.stringify({
      redis_host: redis.hostname,
      redis_port: Number(redis.port || 6379),
      redis_auth: null,
      http_host: '127.0.0.1',
      http_port: port,
      threads: 2,
      pool_size: 20,
      daemonize: false,
      database: 0,
      verbosity: 0,
      logfile: join(dir, 'webdis.log'),
      // Read-only: the benchmark only GETs.
      acl: [{ disabled: ['*'] }, { enabled: ['GET', 'PING'] }],
    }),
  );

  const child = spawn(binary, [configPath], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(url, Date.now() + START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop, ...(child.pid === undefined ? {} : { pid: child.pid }) };
}
