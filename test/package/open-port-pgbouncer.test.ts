/** openPort through PgBouncer in transaction pooling mode: the prepare and directUrl options. */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPort, ValidationError } from '../../src/index.js';
import { PoolerSessionError } from '../../src/adapters/postgres/pooler-session.js';
import { skipWithoutPgBouncer, startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer.js';
import { PG_URL, uniqueName } from '../support/services.js';

describe('openPort: prepare and directUrl', () => {
  it.each([
    ['redis://127.0.0.1:6379', { prepare: false }, 'prepare: applies to postgres URLs only, not redis'],
    ['redis://127.0.0.1:6379', { directUrl: PG_URL }, 'directUrl: applies to postgres URLs only, not redis'],
    [PG_URL, { prepare: 'no' }, 'prepare: must be true or false'],
    [PG_URL, { directUrl: 'redis://127.0.0.1:6379' }, 'directUrl: must be a postgres:// or postgresql:// URL'],
  ] as const)('%s with %j → ValidationError', async (url, options, message) => {
    const attempt = openPort(url, options as never);
    await expect(attempt).rejects.toThrow(ValidationError);
    await expect(attempt).rejects.toThrow(message);
  });
});

describe.skipIf(skipWithoutPgBouncer)('openPort through PgBouncer', () => {
  const schema = uniqueName('cpbopen').toLowerCase();
  let bouncer: PgBouncerProcess;
  beforeAll(async () => {
    bouncer = await startPgBouncer({ schema });
  });
  afterAll(async () => {
    await bouncer?.stop();
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  });

  it('prepare: false with directUrl migrates on the server and serves through PgBouncer', async () => {
    const port = await openPort(bouncer.url, { schema, prepare: false, directUrl: PG_URL, poolMax: 2 });
    try {
      expect(await port.increment('ns', 'n', 2)).toBe(2n);
      expect(await port.increment('ns', 'n', 3)).toBe(5n);
      expect(await bouncer.clients()).toContain('cacheport');
    } finally {
      await port.close();
    }
  });

  it('a schema other than the one PgBouncer sets is refused with the fix, and nothing stays open', async () => {
    const other = uniqueName('cpbother').toLowerCase();
    try {
      const attempt = openPort(bouncer.url, { schema: other, prepare: false, directUrl: PG_URL, poolMax: 1 });
      await expect(attempt).rejects.toThrow(PoolerSessionError);
      await expect(attempt).rejects.toThrow(`set connect_query = 'SET search_path = ${other}'`);
      expect(await bouncer.clients()).not.toContain('cacheport');
    } finally {
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${other}" CASCADE`);
      await sql.end();
    }
  });
});
