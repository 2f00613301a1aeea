import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded.js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../support/services.js';
import { countRows, createWorkerTestDb, insertEntries, waitFor, type WorkerTestDb } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

interface Run {
  exit: Promise<number | null>;
  output(): string;
  signal(name: NodeJS.Signals): void;
}

function runWorker(env: Record<string, string>): Run {
  const child = spawn(TSX, ['jobs/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    output: () => output,
    signal: (name) => child.kill(name),
  };
}

describe('npm run worker (jobs/main.ts)', () => {
  let db: WorkerTestDb;
  beforeAll(async () => {
    db = await createWorkerTestDb('wmain');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('without DATABASE_URL uses the embedded PostgreSQL of CACHE_DATA_DIR (the running one) and leaves it running', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'cacheport-worker-embedded-'));
    const server = await startEmbeddedPostgres({ dataDir });
    // Stands for the running server's pool: the last process out stops the cluster, and this one stays.
    const serverPool = postgres(server.url, { max: 1, onnotice: () => {} });
    await serverPool`SELECT 1`;
    try {
      const run = runWorker({ CACHE_DATA_DIR: dataDir, CLEANUP_INTERVAL: '1s', LOG_LEVEL: 'info' });
      try {
        expect(await waitFor(async () => run.output().includes('"msg":"ttl-cleanup run"'))).toBe(true);
      } finally {
        run.signal('SIGTERM');
      }
      expect(await run.exit).toBe(0);
      const output = run.output();
      expect(output).toContain(`data in ${server.clusterDir}`);
      expect(output).toContain(`password in ${server.passwordFile}`);
      expect(output).toContain(`127.0.0.1:${new URL(server.url).port}/cacheport`);
      expect(output).not.toContain(new URL(server.url).password);
      // The worker shared the server's cluster; stopping the worker did not stop it.
      expect(await serverPool`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      await serverPool.end();
      await server.stop();
      await rm(server.clusterDir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('cleans the configured schema and stops on SIGTERM with exit 0', async () => {
    await insertEntries(db.sql, { ns: 'main', count: 500, expiresInSeconds: -1 });
    const run = runWorker({ DATABASE_URL: PG_URL, CACHE_SCHEMA: db.schema, CLEANUP_INTERVAL: '1s', LOG_LEVEL: 'info' });
    try {
      expect(await waitFor(async () => (await countRows(db.sql, 'entries', 'main')) === 0)).toBe(true);
      // A separate worker has no /metrics: it logs each run's numbers.
      expect(await waitFor(async () => run.output().includes('"msg":"ttl-cleanup run"'))).toBe(true);
    } finally {
      run.signal('SIGTERM');
    }
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain('worker stopped');
  }, 90_000);
});
