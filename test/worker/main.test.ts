import { spawn } from 'node:child_process';
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
  const child = spawn(TSX, ['jobs/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

  it('without DATABASE_URL starts nothing, explains, and exits 1', async () => {
    const run = runWorker({ LOG_LEVEL: 'info' });
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain('needs DATABASE_URL');
  }, 60_000);

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
