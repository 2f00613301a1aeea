/**
 * Drizzle schema of sessions and presence (Postgres backend).
 *
 * - `sessions` is LOGGED: sessions survive a database crash and restart.
 *   Only the SHA-256 of a session id is stored, never the id itself.
 * - `presence` is UNLOGGED (custom migration): heartbeats are ephemeral and
 *   rewritten every few seconds, so WAL for them is pure cost; after a crash
 *   the table is empty and clients simply re-announce themselves.
 *
 * Both carry a NOT NULL `expires_at` with an index so the cleanup worker can
 * delete lapsed rows by index range; reads filter on it, so correctness never
 * depends on cleanup having run.
 */
import { sql } from 'drizzle-orm';
import { bigint, customType, index, json, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
/** Byte-wise order, so members list in the same order as on Redis. */
const cText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

export const sessions = pgTable(
  'sessions',
  {
    /** SHA-256 of the id's base64url text. */
    idHash: bytea('id_hash').primaryKey(),
    subject: text('subject').notNull(),
    /** `json`, not `jsonb`: kept as written (key order), never queried inside. */
    data: json('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    /** Sliding expiry; never past max_expires_at. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** created_at + maxAge: the absolute cap. */
    maxExpiresAt: timestamp('max_expires_at', { withTimezone: true }).notNull(),
    /** The sliding window each read extends the expiry by. */
    ttlMs: bigint('ttl_ms', { mode: 'number' }).notNull(),
  },
  (t) => [index('sessions_subject_idx').on(t.subject), index('sessions_expires_at_idx').on(t.expiresAt)],
);

export const presence = pgTable(
  'presence',
  {
    channel: cText('channel').notNull(),
    member: cText('member').notNull(),
    data: json('data').notNull().default(sql`'null'::json`),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'presence_pkey', columns: [t.channel, t.member] }),
    /** count(channel) is a range scan over live rows only. */
    index('presence_channel_expires_at_idx').on(t.channel, t.expiresAt),
    /** For the cleanup worker. */
    index('presence_expires_at_idx').on(t.expiresAt),
  ],
);
