/**
 * The Postgres change feed: every writer is announced at commit (adapter,
 * SQL functions, an application's trigger), recency updates and rolled-back
 * writes are not. The tests common to both backends (and the killed connection) are in change-feed.test.ts.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgTestPort, type PgTestPort } from '../postgres/helpers.js';
import { PG_URL } from '../support/services.js';
import { keysOf, recorder } from './support/recorder.js';

describe('Postgres change feed', () => {
  let pg: PgTestPort;
  let sql: postgres.Sql;
  beforeAll(async () => {
    pg = await createPgTestPort();
    sql = postgres(PG_URL, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await pg?.cleanup();
  });

  it('announces set, expire, delete, prefix and tags writes of the adapter with their keys', async () => {
    const rec = recorder();
    const sub = await pg.port.changes('feed-a', rec.onEvent);
    await pg.port.set('feed-a', 'k1', 'v', { tags: ['t'] });
    await rec.waitFor((e) => e.type === 'change' && e.op === 'set' && keysOf(e).includes('k1'));
    await pg.port.expire('feed-a', 'k1', 60_000);
    await rec.waitFor((e) => e.type === 'change' && e.op === 'expire' && keysOf(e).includes('k1'));
    await pg.port.increment('feed-a', 'n', 1);
    await rec.waitFor((e) => e.type === 'change' && e.op === 'set' && keysOf(e).includes('n'));
    await pg.port.invalidateTags('feed-a', ['t']);
    await rec.waitFor((e) => e.type === 'change' && e.op === 'delete' && keysOf(e).includes('k1'));
    await pg.port.set('feed-b', 'other', 'v');
    await pg.port.delete('feed-a', 'n');
    await rec.waitFor((e) => e.type === 'change' && e.op === 'delete' && keysOf(e).includes('n'));
    expect(rec.events.some((e) => keysOf(e).includes('other'))).toBe(false);
    sub.unsubscribe();
  });

  it('does not announce recency updates (read tracker) nor rolled-back writes', async () => {
    const rec = recorder();
    const sub = await pg.port.changes('feed-r', rec.onEvent);
    await pg.port.set('feed-r', 'k', 'v');
    await rec.waitFor((e) => keysOf(e).includes('k'));
    rec.events.length = 0;
    await sql.unsafe(`UPDATE "${pg.schema}".entries SET accessed_at = now(), hits = hits + 5 WHERE ns = 'feed-r'`);
    await sql
      .begin(async (tx) => {
        await tx.unsafe(`SELECT "${pg.schema}".cacheport_invalidate('feed-r', ARRAY['k'])`);
        throw new Error('roll back');
      })
      .catch(() => {});
    await pg.port.set('feed-r', 'marker', 'v');
    await rec.waitFor((e) => keysOf(e).includes('marker'));
    expect(rec.events.filter((e) => keysOf(e).includes('k'))).toEqual([]);
    expect(await pg.port.get('feed-r', 'k')).toBeDefined();
    sub.unsubscribe();
  });

  it('announces the SQL invalidation functions at commit, called from an application trigger', async () => {
    const s = `"${pg.schema}"`;
    await sql.unsafe(`CREATE TABLE ${s}.app_users (id int PRIMARY KEY, name text)`);
    await sql.unsafe(`CREATE FUNCTION ${s}.app_users_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM ${s}.cacheport_invalidate('feed-sql', ARRAY['user:' || OLD.id]);
        PERFORM ${s}.cacheport_invalidate_prefix('feed-sql', 'list:');
        PERFORM ${s}.cacheport_invalidate_tags('feed-sql', ARRAY['users']);
        RETURN NULL;
      END $$`);
    await sql.unsafe(`CREATE TRIGGER app_users_changed AFTER UPDATE OR DELETE ON ${s}.app_users
      FOR EACH ROW EXECUTE FUNCTION ${s}.app_users_invalidate()`);
    await sql.unsafe(`INSERT INTO ${s}.app_users VALUES (7, 'ada')`);
    await pg.port.set('feed-sql', 'user:7', 'ada');
    await pg.port.set('feed-sql', 'list:%_all', 'x');
    await pg.port.set('feed-sql', 'lisx', 'not a prefix match');
    await pg.port.set('feed-sql', 'tagged', 'x', { tags: ['users'] });
    const rec = recorder();
    const sub = await pg.port.changes('feed-sql', rec.onEvent);
    await sql.unsafe(`UPDATE ${s}.app_users SET name = 'grace' WHERE id = 7`);
    await rec.waitFor((e) => e.type === 'change' && e.op === 'delete' && keysOf(e).includes('user:7'));
    await rec.waitFor((e) => e.type === 'change' && e.op === 'prefix' && keysOf(e).includes('list:%_all'));
    await rec.waitFor((e) => e.type === 'change' && e.op === 'tags' && keysOf(e).includes('tagged'));
    expect(await pg.port.get('feed-sql', 'lisx')).toBeDefined();
    expect(await pg.port.has('feed-sql', 'user:7')).toBe(false);
    const rows = await sql.unsafe<{ n: string }[]>(`SELECT ${s}.cacheport_invalidate_prefix('feed-sql', 'lis') AS n`);
    expect(Number(rows[0]?.n)).toBe(1);
    sub.unsubscribe();
  });

  it('splits a large key list into payloads under the NOTIFY limit, and falls back to the whole namespace', async () => {
    const rec = recorder();
    const sub = await pg.port.changes('feed-big', rec.onEvent);
    const keys = Array.from({ length: 300 }, (_, i) => `${'k'.repeat(100)}:${i}`);
    await pg.port.setMany(
      'feed-big',
      keys.map((key) => ({ key, value: 'v' })),
    );
    await rec.waitFor(() => new Set(rec.events.flatMap(keysOf)).size === 300);
    expect(rec.events.length).toBeGreaterThan(1);
    const many = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i}`, value: 'v' }));
    await pg.port.setMany('feed-big', many.slice(0, 1000));
    await pg.port.setMany('feed-big', many.slice(1000, 2000));
    await pg.port.setMany('feed-big', many.slice(2000));
    const before = rec.events.length;
    await pg.port.clear('feed-big');
    await rec.waitFor((e) => rec.events.indexOf(e) >= before && e.type === 'change' && e.keys === undefined);
    sub.unsubscribe();
  });
});
