/**
 * Postgres specifics of key listings, top entries and bulk expire: the plans
 * (an index walk bounded by the page window, no sort over the namespace), a
 * namespace full of expired rows, and durable namespaces (durable_entries).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireBatch, listKeysWindow, topEntries } from '../../src/adapters/postgres/key-inspector-sql.js';
import type { Sql } from '../../src/adapters/postgres/connection.js';
import { scanWindow } from '../../src/core/key-listing.js';
import { PG_URL } from '../support/services.js';
import { createPgTestPort, type PgTestPort } from './helpers.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** EXPLAIN ANALYZE of a statement the adapter builds, with its parameters. */
async function explain(sql: Sql, query: { describe(): Promise<{ string: string }> }, params: (string | number)[]): Promise<PlanNode[]> {
  const { string } = await query.describe();
  const [row] = await sql.unsafe<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${string}`, params);
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

const EXPIRED = 5000;
const LIVE = ['zz:1', 'zz:2', 'zz:3'];

describe('postgres key inspector', () => {
  let t: PgTestPort;

  beforeAll(async () => {
    t = await createPgTestPort();
    const port = t.port;
    // Setup statements on their own connection, without the adapter's statement timeout (the machine is shared).
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: t.schema } });
    // Many expired rows in front of a few live ones, and a neighbour namespace of the same size.
    for (const ns of ['big', 'other']) {
      for (let i = 0; i < EXPIRED; i += 1000) {
        await port.setMany(
          ns,
          Array.from({ length: 1000 }, (_, j) => ({ key: `e:${String(i + j).padStart(5, '0')}`, value: 'x', ttl: 600_000 })),
        );
      }
    }
    await sql`UPDATE entries SET expires_at = now() - interval '1 hour' WHERE ns = 'big'`;
    await sql`UPDATE entries SET hits = 1 + (octet_length(key) * 7919 + ascii(right(key, 1))) % 50 WHERE ns = 'other'`;
    await port.setMany(
      'big',
      LIVE.map((key) => ({ key, value: 'live', ttl: 600_000 })),
    );
    await sql`ANALYZE entries`;
    await sql.end();
  }, 120_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  it('a page walks the primary key for at most its window of rows, expired or not, and never sorts', async () => {
    const { sql } = t.port;
    const window = scanWindow(10);
    const plan = await explain(
      sql,
      listKeysWindow(sql, 'entries', 'big', { from: undefined, after: 'e:01000', upper: undefined }, window),
      ['big', 'e:01000', window],
    );
    expect(plan.map((n) => n['Node Type'])).not.toContain('Sort');
    const scan = plan.find((n) => n['Index Name'] === 'entries_pkey');
    expect(scan, JSON.stringify(plan)).toBeDefined();
    expect(scan?.['Actual Rows']).toBe(window);
  });

  it('pages through thousands of expired rows in bounded steps to the live ones', async () => {
    const port = t.port;
    let cursor: string | undefined;
    const seen: string[] = [];
    let pages = 0;
    do {
      const page = await port.listKeys('big', { limit: 10, cursor });
      seen.push(...page.keys.map((k) => k.key));
      cursor = page.cursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    expect(seen).toEqual(LIVE);
    // Every page examined 20 rows (10 + up to 10 skipped): 5000 expired rows take 250 pages.
    expect(pages).toBe(Math.floor(EXPIRED / scanWindow(10)) + 1);
  });

  it('top walks the partial hits index without sorting the namespace', async () => {
    const { sql } = t.port;
    const plan = await explain(sql, topEntries(sql, 'entries', 'other', 10), ['other', 10]);
    expect(plan.map((n) => n['Node Type'])).not.toContain('Sort');
    const scan = plan.find((n) => n['Index Name'] === 'entries_ns_hits_idx');
    expect(scan, JSON.stringify(plan)).toBeDefined();
    expect(scan?.['Actual Rows']).toBe(10);
    const top = await t.port.top('other', { limit: 5 });
    const best = await sql<{ key: string; hits: number }[]>`
      SELECT key, hits::float8 AS hits FROM entries WHERE ns = 'other' ORDER BY hits DESC, key LIMIT 5`;
    expect(top.map((e) => [e.key, e.hits])).toEqual(best.map((r) => [r.key, r.hits]));
  });

  it('a bulk expire batch locks and updates at most its batch of rows in key order', async () => {
    const { sql } = t.port;
    const range = { from: 'e:', after: undefined, upper: 'e;' };
    const [row] = await expireBatch(sql, 'entries', 'other', range, undefined, 900_000, 100);
    expect(row).toEqual({ n: 100, last: 'e:00099' });
    const [next] = await expireBatch(sql, 'entries', 'other', { ...range, after: 'e:00099' }, undefined, 900_000, 100);
    expect(next).toEqual({ n: 100, last: 'e:00199' });
  });

  it('serves a durable namespace from durable_entries', async () => {
    const port = t.port;
    const { sql } = port;
    await port.configure('dur', { durable: true });
    await port.setMany('dur', [
      { key: 'b', value: 'bb', ttl: null, tags: ['t'] },
      { key: 'a', value: 'a', ttl: null },
      { key: 'c', value: 'ccc', ttl: null },
    ]);
    expect((await port.listKeys('dur')).keys).toEqual([
      { key: 'a', size: 1, expiresAt: null },
      { key: 'b', size: 2, expiresAt: null },
      { key: 'c', size: 3, expiresAt: null },
    ]);
    await port.get('dur', 'c');
    await port.get('dur', 'c');
    await port.get('dur', 'b');
    expect((await port.top('dur')).map((e) => [e.key, e.hits])).toEqual([
      ['c', 2],
      ['b', 1],
    ]);
    expect(await port.expireMany('dur', 60_000, { tags: ['t'] })).toBe(1);
    const rows = await sql<{ key: string; expiring: boolean }[]>`
      SELECT key, expires_at IS NOT NULL AS expiring FROM durable_entries WHERE ns = 'dur' ORDER BY key`;
    expect(rows).toEqual([
      { key: 'a', expiring: false },
      { key: 'b', expiring: true },
      { key: 'c', expiring: false },
    ]);
    expect(await sql`SELECT 1 FROM entries WHERE ns = 'dur'`).toHaveLength(0);
    // Moving storage keeps the read counts.
    await port.configure('dur', { durable: false });
    expect((await port.top('dur')).map((e) => [e.key, e.hits])).toEqual([
      ['c', 2],
      ['b', 1],
    ]);
  });
});
