/**
 * Sessions on Postgres: one row per session in the LOGGED `sessions` table,
 * keyed by the SHA-256 of the id (the id itself is never stored).
 *
 * Every read slides the expiry in the same statement that reads the row
 * (UPDATE … RETURNING), so two concurrent reads cannot undo each other and an
 * expired row is never returned whether or not cleanup has run. Times come
 * from the database clock, truncated to milliseconds.
 */
import type { CreateSessionOptions, CreatedSession, JsonObject, Session, SessionStore } from '../../core/port.js';
import {
  DEFAULT_SESSION_LIMITS,
  prepareSessionCreate,
  serializeJsonObject,
  validateSubject,
  type SessionLimits,
} from '../../core/validation.js';
import { hashSessionId, isSessionIdFormat, newSessionId } from '../../core/session-id.js';
import type { PgContext } from './context.js';

interface SessionRow {
  subject: string;
  data: JsonObject;
  created_ms: bigint;
  expires_ms: bigint;
}

function toSession(row: SessionRow): Session {
  return { subject: row.subject, data: row.data, createdAt: Number(row.created_ms), expiresAt: Number(row.expires_ms) };
}

export function createPgSessionStore(ctx: PgContext, limits: SessionLimits = DEFAULT_SESSION_LIMITS): SessionStore {
  const { sql } = ctx;

  return {
    async createSession(options: CreateSessionOptions): Promise<CreatedSession> {
      const { subject, dataJson, ttl, maxAge } = prepareSessionCreate(options, limits);
      const id = newSessionId();
      const rows = await ctx.run(
        'createSession',
        () => sql<{ created_ms: bigint; expires_ms: bigint }[]>`
        WITH clock AS (SELECT date_trunc('milliseconds', now()) AS now)
        INSERT INTO sessions (id_hash, subject, data, created_at, expires_at, max_expires_at, ttl_ms)
        SELECT ${hashSessionId(id)}, ${subject}, ${dataJson}::text::json, clock.now,
               clock.now + ${ttl}::bigint * interval '1 millisecond',
               clock.now + ${maxAge}::bigint * interval '1 millisecond',
               ${ttl}::bigint
        FROM clock
        RETURNING (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
                  (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms`,
      );
      const row = rows[0] as { created_ms: bigint; expires_ms: bigint };
      return { id, subject, createdAt: Number(row.created_ms), expiresAt: Number(row.expires_ms) };
    },

    async getSession(id: string): Promise<Session | undefined> {
      if (!isSessionIdFormat(id)) return undefined;
      const rows = await ctx.run(
        'getSession',
        () => sql<SessionRow[]>`
        UPDATE sessions
        SET expires_at = GREATEST(expires_at, LEAST(date_trunc('milliseconds', now()) + ttl_ms * interval '1 millisecond', max_expires_at))
        WHERE id_hash = ${hashSessionId(id)} AND expires_at > now()
        RETURNING subject, data,
                  (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
                  (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms`,
      );
      const row = rows[0];
      return row === undefined ? undefined : toSession(row);
    },

    async sessionSubject(id: string): Promise<string | undefined> {
      if (!isSessionIdFormat(id)) return undefined;
      const rows = await ctx.run(
        'sessionSubject',
        () => sql<{ subject: string }[]>`
        SELECT subject FROM sessions WHERE id_hash = ${hashSessionId(id)} AND expires_at > now()`,
      );
      return rows[0]?.subject;
    },

    async updateSession(id: string, data: JsonObject): Promise<boolean> {
      const dataJson = serializeJsonObject(data, limits.maxSessionDataBytes);
      if (!isSessionIdFormat(id)) return false;
      const result = await ctx.run(
        'updateSession',
        () => sql`
        UPDATE sessions SET data = ${dataJson}::text::json
        WHERE id_hash = ${hashSessionId(id)} AND expires_at > now()`,
      );
      return result.count > 0;
    },

    async revokeSession(id: string): Promise<boolean> {
      if (!isSessionIdFormat(id)) return false;
      const rows = await ctx.run(
        'revokeSession',
        () => sql<{ live: boolean }[]>`
        DELETE FROM sessions WHERE id_hash = ${hashSessionId(id)}
        RETURNING expires_at > now() AS live`,
      );
      return rows[0]?.live === true;
    },

    async revokeSubject(subject: string): Promise<number> {
      validateSubject(subject);
      // Deletes expired rows of the subject too, but counts only live ones.
      const rows = await ctx.run(
        'revokeSubject',
        () => sql<{ revoked: bigint }[]>`
        WITH gone AS (DELETE FROM sessions WHERE subject = ${subject} RETURNING expires_at)
        SELECT count(*) FILTER (WHERE expires_at > now()) AS revoked FROM gone`,
      );
      return Number(rows[0]?.revoked ?? 0n);
    },
  };
}
