/**
 * SessionStore on every backend: create, get (slides, capped by maxAge),
 * update, revoke, revoke by subject, unknown/tampered ids, limits, and that
 * no raw id is ever stored.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LimitExceededError, ValidationError } from '../../src/core/errors.js';
import { BACKENDS, postgresFactory, useBackend } from '../support/backends.js';
import { dumpStorage, relPersistence, sleep, sleepUntil } from './inspect.js';

const MIN = 60_000;

function tamper(id: string): string {
  const last = id.at(-1) === 'A' ? 'B' : 'A';
  return id.slice(0, -1) + last;
}

/** A data object whose JSON is exactly `bytes` long: {"x":"aaa…"} is 8 bytes plus the string. */
function dataOfSize(bytes: number): { x: string } {
  return { x: 'a'.repeat(bytes - 8) };
}

describe.each(BACKENDS)('sessions on $name', (factory) => {
  const backend = useBackend(factory);

  it('creates a session with a 256-bit base64url id and reads it back', async () => {
    const { port } = backend;
    const created = await port.createSession({ subject: 'user-1', data: { role: 'admin', n: 1 }, ttl: 30 * MIN, maxAge: 60 * MIN });
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(created.id, 'base64url')).toHaveLength(32);
    expect(created.subject).toBe('user-1');
    expect(created.expiresAt - created.createdAt).toBe(30 * MIN);

    const session = await port.getSession(created.id);
    expect(session).toBeDefined();
    expect(session?.subject).toBe('user-1');
    expect(session?.data).toEqual({ role: 'admin', n: 1 });
    expect(session?.createdAt).toBe(created.createdAt);
  });

  it('defaults data to an empty object', async () => {
    const created = await backend.port.createSession({ subject: 'user-2', ttl: MIN, maxAge: MIN });
    expect((await backend.port.getSession(created.id))?.data).toEqual({});
  });

  it('gives every session a different id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await backend.port.createSession({ subject: 'many', ttl: MIN, maxAge: MIN })).id);
    expect(ids.size).toBe(20);
  });

  it('slides the expiry on get', async () => {
    const created = await backend.port.createSession({ subject: 'slider', ttl: 10 * MIN, maxAge: 60 * MIN });
    await sleep(50);
    const first = await backend.port.getSession(created.id);
    expect(first?.expiresAt).toBeGreaterThan(created.expiresAt);
    await sleep(50);
    const second = await backend.port.getSession(created.id);
    expect(second?.expiresAt).toBeGreaterThan(first?.expiresAt ?? Infinity);
    expect(second?.createdAt).toBe(created.createdAt);
  });

  it('never slides past createdAt + maxAge', async () => {
    // ttl == maxAge: any slide would pass the cap, so every read sits exactly on it.
    const created = await backend.port.createSession({ subject: 'capped', ttl: 5 * MIN, maxAge: 5 * MIN });
    expect(created.expiresAt).toBe(created.createdAt + 5 * MIN);
    await sleep(20);
    const session = await backend.port.getSession(created.id);
    expect(session?.expiresAt).toBe(created.createdAt + 5 * MIN);
  });

  it('expires at maxAge even when read within every ttl', async () => {
    // Read once after the slide would pass the cap, well within ttl (slack for a busy machine).
    const created = await backend.port.createSession({ subject: 'aging', ttl: 2500, maxAge: 3500 });
    await sleepUntil(created.createdAt + 1100);
    const read = await backend.port.getSession(created.id);
    expect(read?.expiresAt).toBe(created.createdAt + 3500);
    await sleepUntil(created.createdAt + 3800);
    expect(await backend.port.getSession(created.id)).toBeUndefined();
  });

  it('expires after ttl without reads', async () => {
    const created = await backend.port.createSession({ subject: 'idle', ttl: 300, maxAge: MIN });
    await sleepUntil(created.expiresAt + 200);
    expect(await backend.port.getSession(created.id)).toBeUndefined();
    expect(await backend.port.updateSession(created.id, { a: 1 })).toBe(false);
    expect(await backend.port.revokeSession(created.id)).toBe(false);
  });

  it('replaces data on update without sliding', async () => {
    const { port } = backend;
    const created = await port.createSession({ subject: 'upd', data: { a: 1, b: 2 }, ttl: 10 * MIN, maxAge: 60 * MIN });
    expect(await port.updateSession(created.id, { c: [1, 'two', null, { d: true }] })).toBe(true);
    const session = await port.getSession(created.id);
    expect(session?.data).toEqual({ c: [1, 'two', null, { d: true }] });
  });

  it('sessionSubject reads the subject without sliding; unknown, malformed, revoked and lapsed ids are undefined', async () => {
    const { port } = backend;
    const created = await port.createSession({ subject: 'who', ttl: 400, maxAge: MIN });
    expect(await port.sessionSubject(created.id)).toBe('who');
    expect(await port.sessionSubject('not-an-id')).toBeUndefined();
    expect(await port.sessionSubject(`${created.id.slice(0, -1)}${created.id.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    // A read 250 ms in would have slid the expiry to 650 ms; it stays at 400.
    await sleepUntil(created.createdAt + 250);
    expect(await port.sessionSubject(created.id)).toBe('who');
    await sleepUntil(created.expiresAt + 150);
    expect(await port.sessionSubject(created.id)).toBeUndefined();
    const revoked = await port.createSession({ subject: 'who', ttl: MIN, maxAge: MIN });
    await port.revokeSession(revoked.id);
    expect(await port.sessionSubject(revoked.id)).toBeUndefined();
  });

  it('revokes one session', async () => {
    const { port } = backend;
    const a = await port.createSession({ subject: 'rev', ttl: MIN, maxAge: MIN });
    const b = await port.createSession({ subject: 'rev', ttl: MIN, maxAge: MIN });
    expect(await port.revokeSession(a.id)).toBe(true);
    expect(await port.revokeSession(a.id)).toBe(false);
    expect(await port.getSession(a.id)).toBeUndefined();
    expect(await port.updateSession(a.id, { x: 1 })).toBe(false);
    expect((await port.getSession(b.id))?.subject).toBe('rev');
  });

  it('revokes every session of a subject and only those', async () => {
    const { port } = backend;
    const alice = await Promise.all([1, 2, 3].map(() => port.createSession({ subject: 'alice', ttl: MIN, maxAge: MIN })));
    const bob = await port.createSession({ subject: 'bob', ttl: MIN, maxAge: MIN });
    expect(await port.revokeSubject('alice')).toBe(3);
    for (const s of alice) expect(await port.getSession(s.id)).toBeUndefined();
    expect((await port.getSession(bob.id))?.subject).toBe('bob');
    expect(await port.revokeSubject('alice')).toBe(0);
    expect(await port.revokeSubject('nobody-ever')).toBe(0);
  });

  it('does not count already-expired sessions as revoked', async () => {
    const { port } = backend;
    const gone = await port.createSession({ subject: 'carol', ttl: 200, maxAge: 200 });
    await port.createSession({ subject: 'carol', ttl: MIN, maxAge: MIN });
    await sleepUntil(gone.expiresAt + 200);
    expect(await port.revokeSubject('carol')).toBe(1);
  });

  it('treats unknown, tampered and malformed ids as absent', async () => {
    const { port } = backend;
    const created = await port.createSession({ subject: 'victim', ttl: MIN, maxAge: MIN });
    const candidates = [
      tamper(created.id),
      created.id.slice(1),
      created.id + 'A',
      created.id.toUpperCase(),
      Buffer.alloc(32).toString('base64url'),
      '',
      'not an id',
      createHash('sha256').update(created.id).digest('base64url').slice(0, 43),
    ];
    for (const id of candidates) {
      expect(await port.getSession(id)).toBeUndefined();
      expect(await port.updateSession(id, { x: 1 })).toBe(false);
      expect(await port.revokeSession(id)).toBe(false);
    }
    expect((await port.getSession(created.id))?.subject).toBe('victim');
  });

  it('stores no raw session id', async () => {
    const created = await backend.port.createSession({ subject: 'secretive', data: { k: 'v' }, ttl: MIN, maxAge: MIN });
    const stored = await dumpStorage(factory.name, backend.scope);
    expect(stored.some((text) => text.includes('secretive'))).toBe(true); // the dump does see this session
    expect(stored.filter((text) => text.includes(created.id))).toEqual([]);
  });

  it('validates the subject', async () => {
    const { port } = backend;
    for (const subject of ['', 'a\u0000b', 'x'.repeat(257), '\ud800']) {
      await expect(port.createSession({ subject, ttl: MIN, maxAge: MIN })).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(port.revokeSubject('')).rejects.toBeInstanceOf(ValidationError);
    const longest = await port.createSession({ subject: 'é'.repeat(256), ttl: MIN, maxAge: MIN });
    expect((await port.getSession(longest.id))?.subject).toBe('é'.repeat(256));
  });

  it('validates ttl and maxAge (maxAge below ttl is an error)', async () => {
    const { port } = backend;
    await expect(port.createSession({ subject: 's', ttl: 2 * MIN, maxAge: MIN })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.createSession({ subject: 's', ttl: 0, maxAge: MIN })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.createSession({ subject: 's', ttl: 1.5, maxAge: MIN })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.createSession({ subject: 's', ttl: MIN, maxAge: 366 * 24 * 60 * MIN })).rejects.toBeInstanceOf(ValidationError);
  });

  it('limits data to 64 KiB of serialized JSON (inclusive)', async () => {
    const { port } = backend;
    const fits = await port.createSession({ subject: 'big', data: dataOfSize(64 * 1024), ttl: MIN, maxAge: MIN });
    expect((await port.getSession(fits.id))?.data).toEqual(dataOfSize(64 * 1024));
    await expect(port.createSession({ subject: 'big', data: dataOfSize(64 * 1024 + 1), ttl: MIN, maxAge: MIN })).rejects.toBeInstanceOf(
      LimitExceededError,
    );
    await expect(port.updateSession(fits.id, dataOfSize(64 * 1024 + 1))).rejects.toBeInstanceOf(LimitExceededError);
    expect((await port.getSession(fits.id))?.data).toEqual(dataOfSize(64 * 1024)); // the failed update changed nothing
  });

  it('rejects data that is not a JSON object', async () => {
    const { port } = backend;
    const bad: unknown[] = [[1, 2], 'text', 42, { n: Number.NaN }, { d: new Date() }];
    for (const data of bad) {
      await expect(port.createSession({ subject: 's', data: data as never, ttl: MIN, maxAge: MIN })).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
  });
});

describe('session durability on postgres', () => {
  const backend = useBackend(postgresFactory);

  it('keeps sessions in a logged table (survives a crash) and presence in an unlogged one', async () => {
    expect(await relPersistence(backend.scope, 'sessions')).toBe('p');
    expect(await relPersistence(backend.scope, 'presence')).toBe('u');
  });
});
