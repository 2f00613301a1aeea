/**
 * Multi-process mode: `npm start` (src/main.ts under tsx) with WEB_CONCURRENCY=2
 * as a child process against the test database (its own schema). Which worker
 * served a request is read from the request log lines (each worker logs its
 * pid); the workers are checked to be children of the primary via /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { bossSchemaFor } from '../../jobs/worker.js';
import { SHUTDOWN_GRACE_MS } from '../../src/app.js';
import { PG_URL, uniqueName } from '../support/services.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface LogLine {
  msg?: string;
  pid?: number;
  worker?: number;
  role?: string;
  url?: string;
  job?: string;
}

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** One GET on a fresh connection (no keep-alive), so the primary hands each to the next worker. */
function getOnNewConnection(url: string): Promise<{ status: number; body: string }> {
  return onNewConnection('GET', url);
}

/** One request on a fresh connection (no keep-alive). */
function onNewConnection(method: string, url: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('multi-process mode (WEB_CONCURRENCY=2)', () => {
  const schema = uniqueName('cpcluster').toLowerCase();
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${bossSchemaFor(schema)}" CASCADE`);
    await sql.end();
  });

  it('serves from two worker processes, runs the cleanup worker once, restarts a crashed worker, and drains on SIGTERM', async () => {
    const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        WEB_CONCURRENCY: '2',
        DATABASE_URL: PG_URL,
        CACHE_SCHEMA: schema,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        WORKER: 'inline',
        PG_POOL_MAX: '4',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let output = '';
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    const primaryPid = started.pid as number;
    const read = () => output;

    const clusterUp = () => logLines(output).find((l) => l.msg?.startsWith('cacheport cluster listening'));
    await waitFor(() => clusterUp() !== undefined, 90_000, 'the cluster to listen', read);
    const url = clusterUp()?.url as string;

    // Each worker has its own pool: PG_POOL_MAX=4 split over 2 workers.
    expect(output).toContain('"poolMaxPerWorker":2');

    const put = await fetch(`${url}/v1/cache/cl/k1`, { method: 'PUT', body: 'hello' });
    expect(put.status).toBe(201);
    for (let i = 0; i < 12; i++) {
      const got = await getOnNewConnection(`${url}/v1/cache/cl/k1`);
      expect(got).toEqual({ status: 200, body: 'hello' });
    }
    await waitFor(() => logLines(output).filter((l) => l.msg === 'request').length >= 13, 10_000, 'request log lines', read);

    const servedBy = new Set(
      logLines(output)
        .filter((l) => l.msg === 'request')
        .map((l) => l.pid as number),
    );
    expect(servedBy.size).toBe(2);
    for (const pid of servedBy) {
      expect(pid).not.toBe(primaryPid);
      expect(parentPid(pid)).toBe(primaryPid);
    }

    // The cleanup worker (WORKER=inline) runs in exactly one process.
    const scheduling = new Set(
      logLines(output)
        .filter((l) => l.msg === 'worker job scheduled')
        .map((l) => l.pid),
    );
    expect(scheduling.size).toBe(1);

    // Local caches: each worker keeps its own; a write through either worker is seen at once by the next read,
    // whichever worker answers it (the writer tells its sibling before answering), and by every read after it.
    const configured = await fetch(`${url}/v1/namespaces/cl-local`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ localCache: { maxEntries: 100, ttl: '1h' } }),
    });
    expect(configured.status).toBe(201);
    expect((await fetch(`${url}/v1/cache/cl-local/k`, { method: 'PUT', body: 'v0' })).status).toBe(201);
    for (let i = 0; i < 8; i++) expect(await getOnNewConnection(`${url}/v1/cache/cl-local/k`)).toEqual({ status: 200, body: 'v0' });
    for (let i = 1; i <= 40; i++) {
      expect((await onNewConnection('PUT', `${url}/v1/cache/cl-local/k`, `v${i}`)).status).toBe(204);
      // Reads on new connections (spread over both workers, so each is served from memory again in between).
      for (let reads = 0; reads < 4; reads++) {
        expect(await getOnNewConnection(`${url}/v1/cache/cl-local/k`), `update ${i}, read ${reads}`).toEqual({
          status: 200,
          body: `v${i}`,
        });
      }
    }

    // /metrics is answered by whichever worker takes the connection, with its own figures, every series labelled
    // worker="<n>": scrapes over fresh connections reach both, and each worker's coalescer has batched its gets.
    const scraped = new Map<string, string>();
    for (let i = 0; i < 20 && scraped.size < 2; i++) {
      const metrics = await getOnNewConnection(`${url}/metrics`);
      expect(metrics.status).toBe(200);
      const worker = /^cacheport_coalesced_requests_total\{op="get",worker="(\d+)"\} \d+$/m.exec(metrics.body)?.[1];
      expect(worker, metrics.body).toBeDefined();
      scraped.set(worker as string, metrics.body);
    }
    expect([...scraped.keys()].sort()).toEqual(['0', '1']);
    for (const [worker, text] of scraped) {
      const count = (name: string) => Number(new RegExp(`^${name}\\{op="get",worker="${worker}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      const requests = count('cacheport_coalesced_requests_total');
      const statements = count('cacheport_coalesced_statements_total');
      expect(statements, `worker ${worker}`).toBeGreaterThan(0);
      expect(requests, `worker ${worker}`).toBeGreaterThanOrEqual(statements);
      expect(text).toMatch(new RegExp(`^cacheport_http_requests_total\\{[^}]*worker="${worker}"\\} \\d+$`, 'm'));
    }

    // A crashed worker is replaced; the cluster keeps serving.
    const victim = [...servedBy][0] as number;
    process.kill(victim, 'SIGKILL');
    const listening = () => logLines(output).filter((l) => l.msg?.startsWith('cacheport listening') && l.pid !== victim);
    await waitFor(() => listening().length >= 2, 60_000, 'a replacement worker', read);
    const replacement = listening()
      .map((l) => l.pid as number)
      .find((pid) => !servedBy.has(pid));
    expect(replacement).toBeDefined();
    expect(parentPid(replacement as number)).toBe(primaryPid);
    for (let i = 0; i < 4; i++) expect((await getOnNewConnection(`${url}/v1/cache/cl/k1`)).status).toBe(200);

    // SIGTERM to the primary drains every worker and exits 0 within the grace period.
    const stopAt = Date.now();
    started.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SHUTDOWN_GRACE_MS + 10_000)),
    ]);
    expect(code, output).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(SHUTDOWN_GRACE_MS + 10_000);
    expect(logLines(output).filter((l) => l.msg === 'cacheport stopped').length).toBe(2);
    expect(output).toContain('"msg":"cacheport cluster stopped"');
  }, 240_000);
});
