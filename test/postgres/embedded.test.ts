import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedClusterDir, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/adapters/postgres/embedded.js';

describe('embedded PostgreSQL', () => {
  let dataDir: string | undefined;
  let running: EmbeddedPostgresHandle | undefined;

  afterAll(async () => {
    await running?.stop();
    if (dataDir) await rm(embeddedClusterDir(dataDir), { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function query<T extends object>(url: string, run: (sql: postgres.Sql) => Promise<T[]>): Promise<T[]> {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      return await run(sql);
    } finally {
      await sql.end();
    }
  }

  it('starts, keeps its data across a restart, and survives a stale postmaster.pid', { timeout: 180_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cacheport-embedded-'));

    running = await startEmbeddedPostgres({ dataDir });
    const first = running.url;
    expect(first).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/cacheport$/);
    await query(first, (sql) => sql`CREATE TABLE kept (v text)`);
    await query(first, (sql) => sql`INSERT INTO kept VALUES ('still here')`);
    await running.stop();
    running = undefined;

    running = await startEmbeddedPostgres({ dataDir });
    expect((await query(running.url, (sql) => sql<{ v: string }[]>`SELECT v FROM kept`)).map((r) => r.v)).toEqual(['still here']);
    await running.stop();
    running = undefined;

    // A crash leaves postmaster.pid behind with a pid that no longer runs.
    await writeFile(path.join(embeddedClusterDir(dataDir), 'postmaster.pid'), '999999\n/nowhere\n1\n5999\n');
    running = await startEmbeddedPostgres({ dataDir });
    expect((await query(running.url, (sql) => sql<{ v: string }[]>`SELECT v FROM kept`)).map((r) => r.v)).toEqual(['still here']);
  });
});
