/**
 * Connection budgeting: what the configured instances need, what the server
 * allows (read from the real server), and the one startup log line.
 */
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { budgetWarning, connectionBudget, readServerConnections } from '../../src/adapters/postgres/connection-budget.js';
import { prepareDatabase, warnOnConnectionBudget } from '../../src/backend.js';
import { loadConfig } from '../../src/config.js';
import { closedTcpPort } from '../support/contract-unreachable.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { dropSchema } from './helpers.js';

const single = { poolMax: 10, webConcurrency: 1, instances: 1, inlineWorker: true, viaPooler: false };

describe('connectionBudget', () => {
  it('direct: the pool, one LISTEN connection per process and the inline worker, per instance', () => {
    expect(connectionBudget(single)).toEqual({ directPerInstance: 16, direct: 16, poolerClients: 0 });
    expect(connectionBudget({ ...single, instances: 3, inlineWorker: false })).toEqual({
      directPerInstance: 11,
      direct: 33,
      poolerClients: 0,
    });
  });

  it('cluster mode: each process gets floor(PG_POOL_MAX / WEB_CONCURRENCY), at least 1, and its own LISTEN', () => {
    expect(connectionBudget({ ...single, webConcurrency: 4, inlineWorker: false })).toMatchObject({ directPerInstance: 8 + 4 });
    expect(connectionBudget({ ...single, poolMax: 2, webConcurrency: 4, inlineWorker: false })).toMatchObject({ directPerInstance: 4 + 4 });
  });

  it('through PgBouncer the pool is PgBouncer clients; only LISTEN and the worker reach the server', () => {
    expect(connectionBudget({ ...single, instances: 3, viaPooler: true })).toEqual({ directPerInstance: 6, direct: 18, poolerClients: 30 });
  });
});

describe('budgetWarning', () => {
  const server = { maxConnections: 100, reserved: 3, othersInUse: 7 };
  it('is silent while the instances fit in max_connections less reserved and other applications', () => {
    expect(budgetWarning({ directPerInstance: 18, direct: 90, poolerClients: 0 }, server, 5)).toBeUndefined();
  });
  it('names the numbers and the fixes when they do not', () => {
    const warning = budgetWarning({ directPerInstance: 13, direct: 91, poolerClients: 0 }, server, 7);
    expect(warning).toContain('7 instance(s) × 13 direct connection(s) = 91');
    expect(warning).toContain('max_connections 100 − 3 reserved − 7 held by other applications leaves 90');
    expect(warning).toMatch(/PG_POOL_MAX.*PgBouncer.*max_connections/);
  });
});

function capture() {
  const lines: { level: number; msg: string; [field: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

describe('the startup check against the real server', () => {
  it('reads max_connections and the reserved slots; counts other applications, not cacheport', async () => {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    const other = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { application_name: 'budget-test-other-app' } });
    try {
      await other`SELECT 1`;
      const [expected] = await sql<{ max: number; reserved: number }[]>`
        SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved`;
      const read = await readServerConnections(PG_URL, 2000);
      expect(read.maxConnections).toBe(expected?.max);
      expect(read.reserved).toBeGreaterThanOrEqual(expected?.reserved ?? Number.NaN);
      expect(read.othersInUse).toBeGreaterThanOrEqual(1);
    } finally {
      await other.end();
      await sql.end();
    }
  });

  it('warns once when CACHE_INSTANCES × the per-instance need exceeds the server', async () => {
    const { lines, logger } = capture();
    const config = loadConfig({ DATABASE_URL: PG_URL, PG_POOL_MAX: '100', CACHE_INSTANCES: '10000' });
    await warnOnConnectionBudget(config, PG_URL, PG_URL, logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, instances: 10000, direct: 10000 * 106 });
    expect(lines[0]?.msg).toMatch(/^connection budget exceeded: 10000 instance\(s\) × 106 direct connection\(s\)/);
  });

  it('logs the budget at info when it fits, with what PgBouncer needs when the pool goes through it', async () => {
    const { lines, logger } = capture();
    const config = loadConfig({ DATABASE_URL: PG_URL, PG_POOL_MAX: '2', WORKER: 'off' });
    await warnOnConnectionBudget(config, PG_URL, PG_URL, logger);
    await warnOnConnectionBudget(config, 'postgres://root@127.0.0.1:6432/test', PG_URL, logger);
    expect(lines.map((line) => line.level)).toEqual([30, 30]);
    expect(lines[0]?.msg).toMatch(/^connection budget: 3 connection\(s\) of \d+ free$/);
    expect(lines[1]?.msg).toMatch(/PgBouncer needs max_client_conn >= 2 and default_pool_size \+ reserve_pool_size <= \d+$/);
  });

  it('an unreadable server is logged, never a reason not to start', async () => {
    const { lines, logger } = capture();
    const unreachable = `postgres://root@127.0.0.1:${await closedTcpPort()}/test`;
    const config = loadConfig({ DATABASE_URL: unreachable, BACKEND_TIMEOUT_MS: '500' });
    await expect(warnOnConnectionBudget(config, unreachable, unreachable, logger)).resolves.toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'connection budget not checked: the server limits could not be read' });
  });
});

describe('prepareDatabase with PG_PREPARE=false', () => {
  it('warns when DATABASE_DIRECT_URL is unset (LISTEN and migrations would go through the pooler), and migrates anyway', async () => {
    const schema = uniqueName('cpbudget').toLowerCase();
    const { lines, logger } = capture();
    try {
      const prepared = await prepareDatabase(loadConfig({ DATABASE_URL: PG_URL, PG_PREPARE: 'false', CACHE_SCHEMA: schema }), logger);
      expect(prepared).toMatchObject({ databaseUrl: PG_URL, directUrl: PG_URL });
      // (The connection budget line may warn too when the shared test server is busy: not what this test is about.)
      const warnings = lines.filter((line) => line.level === 40 && !line.msg.startsWith('connection budget'));
      expect(warnings.map((line) => line.msg)).toEqual([
        expect.stringMatching(/^PG_PREPARE=false without DATABASE_DIRECT_URL: .* set DATABASE_DIRECT_URL to the server itself$/),
      ]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('says nothing of the kind with DATABASE_DIRECT_URL set', async () => {
    const schema = uniqueName('cpbudget').toLowerCase();
    const { lines, logger } = capture();
    try {
      await prepareDatabase(
        loadConfig({ DATABASE_URL: PG_URL, DATABASE_DIRECT_URL: PG_URL, PG_PREPARE: 'false', CACHE_SCHEMA: schema }),
        logger,
      );
      expect(lines.filter((line) => line.level === 40 && !line.msg.startsWith('connection budget'))).toEqual([]);
    } finally {
      await dropSchema(schema);
    }
  });
});
