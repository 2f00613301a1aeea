/**
 * The Postgres cleanup worker's TTL sweep covers sessions and presence:
 * expired rows go, live rows stay (reads never depended on it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgClient, type Sql } from '../../src/adapters/postgres/connection.js';
import { runTtlCleanup } from '../../jobs/ttl-cleanup.js';
import { postgresFactory, type TestBackend } from '../support/backends.js';
import { PG_URL } from '../support/services.js';
import { rawPresenceRows, sleepUntil } from './inspect.js';

describe('TTL cleanup of sessions and presence on postgres', () => {
  let backend: TestBackend;
  let sql: Sql;
  beforeAll(async () => {
    backend = await postgresFactory.create();
    sql = createPgClient({ url: PG_URL, schema: backend.scope, max: 1, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await sql?.end();
    await backend?.cleanup();
  });

  it('deletes expired sessions and lapsed members, keeps live ones', async () => {
    const { port } = backend;
    const expired = await port.createSession({ subject: 'old', ttl: 200, maxAge: 200 });
    const live = await port.createSession({ subject: 'new', ttl: 60_000, maxAge: 60_000 });
    await port.heartbeat('chan', 'gone', { ttl: 200 });
    await port.heartbeat('chan', 'here', { ttl: 60_000 });
    await sleepUntil(expired.expiresAt + 300);

    const result = await runTtlCleanup(sql);
    expect(result.deleted).toMatchObject({ sessions: 1, presence: 1 });
    const rows = await sql<{ n: bigint }[]>`SELECT count(*) AS n FROM sessions`;
    expect(rows[0]?.n).toBe(1n);
    expect(await rawPresenceRows(backend.scope, 'chan')).toBe(1);
    expect((await port.getSession(live.id))?.subject).toBe('new');
    expect((await port.members('chan')).members.map((m) => m.member)).toEqual(['here']);
  });
});
