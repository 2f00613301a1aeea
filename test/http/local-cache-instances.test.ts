/**
 * Two server instances (separate processes, `src/main.ts` under tsx) on one
 * backend, with a namespace that has a local cache: every value PUT through A
 * must show through B. B keeps the previous value in memory, so each update
 * reaches it only through the change feed (or, while its feed is down, by
 * bypassing its copies). Prints the measured delay from A's acknowledgement
 * to B's first read of the new value (p50 / p99); the bound asserted per
 * update is generous (2 s), the figures themselves are documented in
 * docs/http.md, not asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteRedisKeys, type BackendName } from '../support/backends.js';
import { PG_URL, REDIS_URL, uniqueName } from '../support/services.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UPDATES = 200;
const BOUND_MS = 2000;

interface Instance {
  url: string;
  process: ChildProcess;
  output: () => string;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      WEB_CONCURRENCY: '1',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      WORKER: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 90_000;
  for (;;) {
    // LOG_LEVEL=warn keeps request logs out; the listening line is printed at info, so ask the log for it by level.
    const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
    if (match) return { url: match[1] as string, process: child, output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`instance did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopInstance(instance: Instance | undefined): Promise<void> {
  if (!instance || instance.process.exitCode !== null) return;
  const exited = new Promise((resolve) => instance.process.once('exit', resolve));
  instance.process.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  if (instance.process.exitCode === null) instance.process.kill('SIGKILL');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const CASES: { backend: BackendName; env: (scope: string) => Record<string, string> }[] = [
  { backend: 'postgres', env: (scope) => ({ DATABASE_URL: PG_URL, CACHE_SCHEMA: scope, PG_POOL_MAX: '4' }) },
  { backend: 'redis', env: (scope) => ({ CACHE_BACKEND: 'redis', REDIS_URL, REDIS_PREFIX: scope }) },
];

describe.each(CASES)('two server instances with a local cache on $backend', ({ backend, env }) => {
  const scope = uniqueName('cptwo').toLowerCase();
  let a: Instance | undefined;
  let b: Instance | undefined;

  afterAll(async () => {
    await Promise.all([stopInstance(a), stopInstance(b)]);
    if (backend === 'postgres') {
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${scope}" CASCADE`);
      await sql.end();
    } else {
      await deleteRedisKeys(scope);
    }
  }, 60_000);

  it(`every update PUT through A shows through B (${UPDATES} updates, each within ${BOUND_MS} ms); prints the delay`, async () => {
    // LOG_LEVEL=info for the listening line; A first, so it alone runs the migrations.
    a = await startInstance({ ...env(scope), LOG_LEVEL: 'info' });
    b = await startInstance({ ...env(scope), LOG_LEVEL: 'info' });
    const ns = 'two';
    const config = await fetch(`${a.url}/v1/namespaces/${ns}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ localCache: { maxEntries: 1000, ttl: '1h' } }),
    });
    expect(config.status).toBe(201);
    const bRead = async (): Promise<string> => {
      const res = await fetch(`${b?.url}/v1/cache/${ns}/k`);
      return res.status === 200 ? res.text() : `status ${res.status}`;
    };
    expect((await fetch(`${a.url}/v1/cache/${ns}/k`, { method: 'PUT', body: 'v0' })).status).toBe(201);

    // B serves from memory once its feed is live: wait until its local hits reach the stats (flushed within ~1 s).
    const warmDeadline = Date.now() + 30_000;
    for (;;) {
      for (let i = 0; i < 20; i++) expect(await bRead()).toBe('v0');
      const info = (await (await fetch(`${b.url}/v1/namespaces/${ns}`)).json()) as { stats: { localHits: number } };
      if (info.stats.localHits > 0) break;
      if (Date.now() > warmDeadline) throw new Error('B never served from its local cache');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const delays: number[] = [];
    let staleReads = 0;
    for (let i = 1; i <= UPDATES; i++) {
      const value = `v${i}`;
      expect((await fetch(`${a.url}/v1/cache/${ns}/k`, { method: 'PUT', body: value })).status).toBe(204);
      const acked = performance.now();
      for (;;) {
        const seen = await bRead();
        const delay = performance.now() - acked;
        if (seen === value) {
          delays.push(delay);
          break;
        }
        // Anything but the previous value would be a bug (lost or reordered update).
        expect(seen).toBe(`v${i - 1}`);
        staleReads++;
        expect(delay, `update ${i} not seen through B after ${BOUND_MS} ms`).toBeLessThan(BOUND_MS);
      }
    }
    const sorted = [...delays].sort((x, y) => x - y);
    const info = (await (await fetch(`${b.url}/v1/namespaces/${ns}`)).json()) as { stats: { localHits: number } };
    console.log(
      `[local cache, two instances, ${backend}] ${UPDATES} updates: delay from A's ack to B's read ` +
        `p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${(sorted.at(-1) as number).toFixed(2)} ms; ` +
        `${staleReads} reads of the previous value through B; localHits ${info.stats.localHits}`,
    );
    expect(delays).toHaveLength(UPDATES);
  }, 240_000);
});
