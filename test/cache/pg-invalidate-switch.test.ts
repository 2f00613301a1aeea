/**
 * The SQL invalidation functions are atomic with respect to a durable switch:
 * an invalidation that races `configure(ns, { durable })` runs wholly before
 * the switch (which then moves nothing it deleted) or wholly after it (and
 * finds the moved rows), so every matching entry is gone afterwards.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgTestPort, type PgTestPort } from '../postgres/helpers.js';
import { PG_URL } from '../support/services.js';

describe('SQL invalidation racing a durable switch', () => {
  let pg: PgTestPort;
  let sql: postgres.Sql;
  beforeAll(async () => {
    pg = await createPgTestPort();
    sql = postgres(PG_URL, { max: 4, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await pg?.cleanup();
  });

  it('an invalidation that waits on a switch in progress finds the moved rows', async () => {
    const ns = 'inv-held';
    const s = `"${pg.schema}"`;
    await pg.port.setMany(
      ns,
      Array.from({ length: 50 }, (_, i) => ({ key: `p:${i}`, value: 'v' })),
    );
    // A switch in progress, held open: the namespace lock taken exclusively (as
    // configure takes it), the rows moved to the durable table, not committed yet.
    let moved!: () => void;
    const rowsMoved = new Promise<void>((resolve) => {
      moved = resolve;
    });
    const switchDone = sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`cacheport:ns:${ns}`}))`;
      await tx.unsafe(`INSERT INTO ${s}.durable_entries SELECT * FROM ${s}.entries WHERE ns = $1`, [ns]);
      await tx.unsafe(`DELETE FROM ${s}.entries WHERE ns = $1`, [ns]);
      moved();
      // Commit only once the invalidation below has started and is waiting.
      await new Promise((resolve) => setTimeout(resolve, 500));
    });
    await rowsMoved;
    const invalidated = sql.unsafe<{ n: string }[]>(`SELECT ${s}.cacheport_invalidate_prefix($1, 'p:') AS n`, [ns]);
    await switchDone;
    expect(Number((await invalidated)[0]?.n)).toBe(50);
    const left = await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM ${s}.durable_entries WHERE ns = $1`, [ns]);
    expect(Number(left[0]?.n)).toBe(0);
  });

  it('refuses an empty prefix instead of deleting the whole namespace', async () => {
    const ns = 'inv-empty';
    await pg.port.set(ns, 'k', 'v');
    await expect(sql.unsafe(`SELECT "${pg.schema}".cacheport_invalidate_prefix($1, '')`, [ns])).rejects.toThrow(/must not be empty/);
    expect(await pg.port.has(ns, 'k')).toBe(true);
  });
});
