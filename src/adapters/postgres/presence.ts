/**
 * Presence on Postgres: one row per (channel, member) in the UNLOGGED
 * `presence` table. A heartbeat is an upsert that moves `expires_at`; reads
 * filter on `expires_at > now()`, so a lapsed member is never listed or
 * counted, whether or not the cleanup worker has deleted its row yet.
 *
 * count() is a range scan of (channel, expires_at) over live rows only;
 * members() walks the primary key (channel, member) in name order and stops
 * after `limit` live rows.
 */
import type { HeartbeatOptions, JsonValue, PresenceList, PresenceTracker } from '../../core/port.js';
import {
  DEFAULT_PRESENCE_LIMIT,
  DEFAULT_SESSION_LIMITS,
  MAX_PRESENCE_LIMIT,
  prepareHeartbeat,
  validateListLimit,
  validateName,
  type SessionLimits,
} from '../../core/validation.js';
import type { PgContext } from './context.js';

interface MemberRow {
  total: bigint;
  member: string | null;
  data: JsonValue;
  expires_ms: bigint | null;
}

export function createPgPresenceTracker(ctx: PgContext, limits: SessionLimits = DEFAULT_SESSION_LIMITS): PresenceTracker {
  const { sql } = ctx;

  return {
    async heartbeat(channel: string, member: string, options: HeartbeatOptions): Promise<void> {
      const { dataJson, ttl } = prepareHeartbeat(channel, member, options, limits);
      await ctx.run(
        'heartbeat',
        () => sql`
        INSERT INTO presence (channel, member, data, expires_at)
        VALUES (${channel}, ${member}, ${dataJson}::text::json,
                date_trunc('milliseconds', now()) + ${ttl}::bigint * interval '1 millisecond')
        ON CONFLICT (channel, member) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
      );
    },

    async leave(channel: string, member: string): Promise<boolean> {
      validateName(channel, 'channel');
      validateName(member, 'member');
      const rows = await ctx.run(
        'leave',
        () => sql<{ live: boolean }[]>`
        DELETE FROM presence WHERE channel = ${channel} AND member = ${member}
        RETURNING expires_at > now() AS live`,
      );
      return rows[0]?.live === true;
    },

    async members(channel: string, options: { limit?: number } = {}): Promise<PresenceList> {
      validateName(channel, 'channel');
      validateListLimit(options.limit, MAX_PRESENCE_LIMIT);
      const limit = options.limit ?? DEFAULT_PRESENCE_LIMIT;
      // One statement, one snapshot: the total and the page agree. The LEFT
      // JOIN keeps a row carrying the total when the page is empty.
      const rows = await ctx.run(
        'members',
        () => sql<MemberRow[]>`
        SELECT total.n AS total, page.member, page.data, page.expires_ms
        FROM (SELECT count(*) AS n FROM presence WHERE channel = ${channel} AND expires_at > now()) AS total
        LEFT JOIN LATERAL (
          SELECT member, data, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms
          FROM presence
          WHERE channel = ${channel} AND expires_at > now()
          ORDER BY member
          LIMIT ${limit}
        ) AS page ON true
        ORDER BY page.member`,
      );
      const list: PresenceList = { count: Number(rows[0]?.total ?? 0n), members: [] };
      for (const row of rows) {
        if (row.member === null || row.expires_ms === null) continue;
        list.members.push({ member: row.member, data: row.data, expiresAt: Number(row.expires_ms) });
      }
      return list;
    },

    async count(channel: string): Promise<number> {
      validateName(channel, 'channel');
      const rows = await ctx.run(
        'count',
        () => sql<{ n: bigint }[]>`
        SELECT count(*) AS n FROM presence WHERE channel = ${channel} AND expires_at > now()`,
      );
      return Number(rows[0]?.n ?? 0n);
    },
  };
}
