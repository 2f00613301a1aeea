/**
 * Security faults: a read token cannot write, namespace patterns confine a
 * token, no token (bearer, lock, session) ever shows up in the logs (at trace
 * level) or in an error body, and a non-loopback bind without tokens refuses
 * to start (before binding anything).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, uniqueName } from '../support/services.js';
import { runServerUntilExit, startChildServer, type ChildServer } from '../support/fault-server.js';

const READ = 'read-token-3f9c1d7e5a0b42c8';
const WRITER = 'app-writer-token-8e21b6c49d7f';
const ADMIN = 'admin-token-c0ffee5eed1234ab';
const UNKNOWN = 'unknown-token-77aa99bb11cc';
const TOKENS = JSON.stringify([
  { token: READ, scopes: ['read'], namespaces: ['*'] },
  { token: WRITER, scopes: ['read', 'write'], namespaces: ['app-*'] },
  { token: ADMIN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
]);

const auth = (token: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` },
});
const jsonBody = (method: string, value: unknown): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

describe('tokens and scopes', () => {
  const schema = uniqueName('cpsec').toLowerCase();
  let server: ChildServer;
  /** Every secret the server saw; none may appear in its output or in an error body. */
  const secrets = [READ, WRITER, ADMIN, UNKNOWN];
  const errorBodies: string[] = [];

  async function call(path: string, init: RequestInit): Promise<{ status: number; body: string }> {
    const response = await server.fetch(path, init);
    const body = await response.text();
    if (response.status >= 400) errorBodies.push(body);
    return { status: response.status, body };
  }

  beforeAll(async () => {
    server = await startChildServer({ DATABASE_URL: PG_URL, CACHE_SCHEMA: schema, CACHE_TOKENS: TOKENS, LOG_LEVEL: 'trace' });
    expect((await call('/v1/cache/shared/k', auth(ADMIN, { method: 'PUT', body: 'original' }))).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  }, 60_000);

  it('a read token reads but cannot write anything, and its attempts change nothing', async () => {
    expect((await call('/v1/cache/shared/k', auth(READ))).status).toBe(200);
    const writes: [string, RequestInit][] = [
      ['/v1/cache/shared/k', { method: 'PUT', body: 'hacked' }],
      ['/v1/cache/shared/k', { method: 'DELETE' }],
      ['/v1/cache/shared/k', jsonBody('PATCH', { ttl: '1s' })],
      ['/v1/counters/shared/c', jsonBody('POST', { by: 1 })],
      ['/v1/batch', jsonBody('POST', { ops: [{ op: 'set', ns: 'shared', key: 'k', value: 'hacked' }] })],
      ['/v1/locks/l1', jsonBody('POST', { ttl: '30s' })],
      ['/v1/sessions', jsonBody('POST', { subject: 's' })],
      ['/v1/presence/room/me', jsonBody('PUT', {})],
      ['/v1/ratelimit', jsonBody('POST', { key: 'r', limit: 1, window: '1m' })],
      ['/v1/namespaces/shared', jsonBody('PUT', { maxEntries: 1 })],
      ['/v1/namespaces/shared/entries', { method: 'DELETE' }],
    ];
    for (const [path, init] of writes) {
      const answer = await call(path, auth(READ, init));
      // Batch needs the write scope as a whole (spec: write covers batch).
      expect({ path, method: init.method, status: answer.status }).toEqual({ path, method: init.method, status: 403 });
    }
    const after = await call('/v1/cache/shared/k', auth(ADMIN));
    expect(after).toEqual({ status: 200, body: 'original' });
    expect((await call('/v1/locks/l1', auth(ADMIN))).body).toContain('"held":false');
  });

  it('a namespace pattern confines a token to its namespaces, in lists too', async () => {
    expect((await call('/v1/cache/app-one/k', auth(WRITER, { method: 'PUT', body: 'mine' }))).status).toBe(201);
    expect((await call('/v1/cache/shared/k', auth(WRITER, { method: 'PUT', body: 'hacked' }))).status).toBe(403);
    expect((await call('/v1/cache/shared/k', auth(WRITER))).status).toBe(403);
    expect((await call('/v1/cache/apple/k', auth(WRITER, { method: 'PUT', body: 'x' }))).status).toBe(403);
    expect((await call('/v1/counters/shared/c', auth(WRITER, jsonBody('POST', {})))).status).toBe(403);
    const batch = await call(
      '/v1/batch',
      auth(
        WRITER,
        jsonBody('POST', {
          ops: [
            { op: 'set', ns: 'shared', key: 'k', value: 'hacked' },
            { op: 'set', ns: 'app-one', key: 'b', value: 'ok' },
          ],
        }),
      ),
    );
    expect(JSON.parse(batch.body)).toMatchObject({ results: [{ status: 403 }, { status: 201 }] });
    const list = JSON.parse((await call('/v1/namespaces', auth(WRITER))).body) as { namespaces: { name: string }[] };
    expect(list.namespaces.map((n) => n.name)).toEqual(['app-one']);
    expect((await call('/v1/cache/shared/k', auth(ADMIN))).body).toBe('original');
  });

  it('tokens never appear in logs or error bodies', async () => {
    expect((await call('/v1/cache/shared/k', auth(UNKNOWN))).status).toBe(401);
    expect((await call('/v1/cache/shared/k', { headers: { authorization: `Basic ${UNKNOWN}` } })).status).toBe(401);
    expect((await call('/v1/cache/shared/k', { headers: { authorization: UNKNOWN } })).status).toBe(401);
    const lock = JSON.parse((await call('/v1/locks/secret-lock', auth(ADMIN, jsonBody('POST', { ttl: '30s' })))).body) as { token: string };
    secrets.push(lock.token);
    expect(
      (await call('/v1/locks/secret-lock', auth(ADMIN, { method: 'DELETE', headers: { 'lock-token': `${lock.token}x` } }))).status,
    ).toBe(409);
    expect((await call('/v1/locks/secret-lock', auth(ADMIN, jsonBody('PATCH', { token: `${lock.token}x`, ttl: '1s' })))).status).toBe(409);
    const session = JSON.parse((await call('/v1/sessions', auth(ADMIN, jsonBody('POST', { subject: 'u' })))).body) as { id: string };
    secrets.push(session.id);
    expect((await call(`/v1/sessions/${session.id}x`, auth(ADMIN))).status).toBe(404);
    expect((await call(`/v1/sessions/${session.id}`, auth(READ))).status).toBe(403);
    // Give pino's asynchronous writes a moment to reach the pipe.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const output = server.output();
    expect(output.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(output.includes(secret), `secret ${secret.slice(0, 6)}… found in the server log`).toBe(false);
      for (const body of errorBodies) expect(body.includes(secret), `secret ${secret.slice(0, 6)}… in an error body`).toBe(false);
    }
    expect(errorBodies.length).toBeGreaterThan(5);
  });
});

describe('binding beyond loopback', () => {
  it('without tokens, the server refuses to start and says how to configure them', async () => {
    const { code, output } = await runServerUntilExit({ HOST: '0.0.0.0', DATABASE_URL: 'postgres://root@127.0.0.1:1/none' });
    expect(code).not.toBe(0);
    expect(output).toContain('CACHE_TOKENS');
    expect(output).not.toMatch(/listening/);
  }, 30_000);
});
