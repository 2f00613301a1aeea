/**
 * Worker faults, with `npm run worker` processes (jobs/main.ts): SIGKILL in
 * the middle of a TTL cleanup leaves no locks and no half-done state (every
 * live row intact, every expired row either still there or gone); a
 * restarted worker finishes the job; two workers never run the same job at
 * once (sampled from pg-boss's job table while both work).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../support/services.js';
import { countRows, createWorkerTestDb, insertEntries, waitFor, type WorkerTestDb } from '../worker/support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXPIRED = 150_000;
const LIVE = 1000;
/** The dead worker's job is given up after this long (a queue we create with a short expiry). */
const JOB_EXPIRY_S = 5;

function startWorkerProcess(schema: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'jobs/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: PG_URL,
      CACHE_SCHEMA: schema,
      CLEANUP_INTERVAL: '1s',
      EVICTION_INTERVAL: '1h',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('worker killed mid-cleanup', () => {
  let db: WorkerTestDb;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createWorkerTestDb('cpfaultw');
    await insertEntries(db.sql, { ns: 'live', count: LIVE, expiresInSeconds: 3600 });
    for (let offset = 0; offset < EXPIRED; offset += 50_000) {
      await insertEntries(db.sql, { ns: 'dead', count: 50_000, key: (i) => `k${offset + i}`, expiresInSeconds: -60 });
    }
    // The worker reuses an existing queue: give it a short expiry so a killed worker's job is released quickly.
    const boss = new PgBoss({ connectionString: PG_URL, schema: `${db.schema}_boss`, max: 1, supervise: false, schedule: false });
    await boss.start();
    for (const name of ['ttl-cleanup', 'lru-eviction']) {
      await boss.createQueue(name, { name, policy: 'stately', retryLimit: 3, retryDelay: 1, expireInSeconds: JOB_EXPIRY_S });
    }
    await boss.stop({ graceful: false, wait: true });
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map(exitOf));
    await db?.drop();
  }, 60_000);

  it('leaves no locks or half-done rows; restarted workers finish, one at a time', async () => {
    // The shared server also hosts other suites' workers: track only the backends this worker opened.
    const workerPids = async (): Promise<number[]> =>
      (
        await db.sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE application_name IN ('cacheport-worker', 'cacheport-worker-boss') AND datname = current_database()`
      ).map((r) => r.pid);
    const before = new Set(await workerPids());
    const first = startWorkerProcess(db.schema);
    children.push(first);
    const started = await waitFor(async () => (await countRows(db.sql, 'entries', 'dead')) < EXPIRED, 60_000, 20);
    expect(started).toBe(true);
    const killedPids = (await workerPids()).filter((pid) => !before.has(pid));
    expect(killedPids.length).toBeGreaterThan(0);
    first.kill('SIGKILL');
    await exitOf(first);

    // The killed worker's sessions go away with it, and with them every lock it held.
    // Every backend the worker had, including one it opened after killedPids was read (a statement
    // in progress runs on until Postgres notices its client is gone, holding its row locks).
    const gone = await waitFor(async () => (await workerPids()).every((pid) => before.has(pid)), 15_000);
    expect(gone).toBe(true);
    const remaining = await countRows(db.sql, 'entries', 'dead');
    const locks = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE pid = ANY(${killedPids}::int[])`;
    expect(locks[0]?.n).toBe(0);
    // Nor is any row of the cleaned table still locked by anyone (a SKIP LOCKED read sees them all).
    const [unlocked] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM (SELECT 1 FROM entries FOR UPDATE SKIP LOCKED) t`;
    expect(unlocked?.n).toBe(remaining + LIVE);
    // No half-done state: every live row is intact, and only expired rows were removed.
    expect(await countRows(db.sql, 'entries', 'live')).toBe(LIVE);
    const [live] = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM entries WHERE ns = 'live' AND expires_at > now() AND value = '\\x00'::bytea`;
    expect(live?.n).toBe(LIVE);

    // Two restarted workers finish the job; at no sample are two ttl-cleanup jobs active.
    const second = startWorkerProcess(db.schema);
    const third = startWorkerProcess(db.schema);
    children.push(second, third);
    let maxActive = 0;
    let samples = 0;
    const finished = await waitFor(
      async () => {
        const [row] = await db.sql<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM ${db.sql(`${db.schema}_boss`)}.job WHERE name = 'ttl-cleanup' AND state = 'active'`;
        maxActive = Math.max(maxActive, row?.n ?? 0);
        samples++;
        return (await countRows(db.sql, 'entries', 'dead')) === 0;
      },
      90_000,
      50,
    );
    expect(finished, `${remaining} expired rows were left by the killed worker`).toBe(true);
    expect(remaining).toBeGreaterThan(0);
    expect(samples).toBeGreaterThan(10);
    expect(maxActive).toBeLessThanOrEqual(1);
    expect(await countRows(db.sql, 'entries', 'live')).toBe(LIVE);

    second.kill('SIGTERM');
    third.kill('SIGTERM');
    expect(await exitOf(second)).toBe(0);
    expect(await exitOf(third)).toBe(0);
  }, 180_000);
});
