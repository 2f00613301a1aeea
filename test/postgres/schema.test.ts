import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { createTestSchema, dropSchema } from './helpers.js';

describe('postgres schema', () => {
  const schemas: string[] = [];
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });

  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
    await sql.end();
  });

  it('keeps cache entries and pub/sub messages UNLOGGED, durable entries, namespaces and the message id sequence logged', async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const rows = await sql<{ relname: string; relpersistence: string }[]>`
      SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ${schema}
         AND c.relname IN ('entries', 'durable_entries', 'namespaces', 'channels', 'channel_messages', 'channel_message_ids')`;
    const persistence = Object.fromEntries(rows.map((r) => [r.relname, r.relpersistence]));
    // The sequence stays logged: after a crash message ids must not start over below ids subscribers hold.
    expect(persistence).toEqual({
      entries: 'u',
      durable_entries: 'p',
      namespaces: 'p',
      channels: 'u',
      channel_messages: 'u',
      channel_message_ids: 'p',
    });
  });

  it('two concurrent migrations of a fresh schema both succeed and apply each migration once', async () => {
    const schema = uniqueName('cppgmig').toLowerCase();
    schemas.push(schema);
    await Promise.all([runMigrations(PG_URL, schema), runMigrations(PG_URL, schema)]);
    const applied = await sql.unsafe(
      `SELECT count(*)::int AS n, count(DISTINCT hash)::int AS distinct_n FROM "${schema}".__drizzle_migrations`,
    );
    expect(applied[0]?.n).toBeGreaterThan(0);
    expect(applied[0]?.n).toBe(applied[0]?.distinct_n);
    const tables = await sql`SELECT 1 FROM pg_tables WHERE schemaname = ${schema} AND tablename = 'entries'`;
    expect(tables.length).toBe(1);
    // And once more on the migrated schema: nothing to do, no error.
    await runMigrations(PG_URL, schema);
  });
});
