/**
 * Drizzle schema of the Postgres backend. drizzle-kit generates migrations
 * from it (npm run generate); what it cannot express (UNLOGGED, autovacuum
 * settings) lives in custom migrations in drizzle/.
 *
 * Tables are declared without a schema: the runtime sets search_path to
 * CACHE_SCHEMA, so the same migrations serve any schema name.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
/** Keys compare byte-wise (C collation) so prefix ranges map onto the primary key. */
const cText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

function entryColumns() {
  return {
    ns: text('ns').notNull(),
    key: cText('key').notNull(),
    value: bytea('value').notNull(),
    contentType: text('content_type').notNull(),
    etag: text('etag').notNull(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    size: integer('size').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** Coarse recency for LRU: touched at most once per interval per key, never on every hit. */
    accessedAt: timestamp('accessed_at', { withTimezone: true }).notNull().defaultNow(),
    /** Approximate reads (the read tracker's batched flushes); kept over a rewrite of a live entry. */
    hits: bigint('hits', { mode: 'number' }).notNull().default(0),
    /** When a flush last recorded a read (top's lastAccessAt); NULL until then. */
    readAt: timestamp('read_at', { withTimezone: true }),
  };
}

/** UNLOGGED (custom migration): no WAL, emptied after a crash, not replicated. */
export const entries = pgTable('entries', entryColumns(), (t) => [
  primaryKey({ name: 'entries_pkey', columns: [t.ns, t.key] }),
  index('entries_expires_at_idx').on(t.expiresAt).where(sql`${t.expiresAt} IS NOT NULL`),
  index('entries_tags_idx').using('gin', t.tags),
  index('entries_ns_accessed_at_idx').on(t.ns, t.accessedAt),
  // top(): most read first without a sort; partial, so entries never read cost nothing.
  index('entries_ns_hits_idx').on(t.ns, t.hits.desc(), t.key).where(sql`${t.hits} > 0`),
]);

/** Same shape, logged: entries of `durable` namespaces. */
export const durableEntries = pgTable('durable_entries', entryColumns(), (t) => [
  primaryKey({ name: 'durable_entries_pkey', columns: [t.ns, t.key] }),
  index('durable_entries_expires_at_idx').on(t.expiresAt).where(sql`${t.expiresAt} IS NOT NULL`),
  index('durable_entries_tags_idx').using('gin', t.tags),
  index('durable_entries_ns_accessed_at_idx').on(t.ns, t.accessedAt),
  // top(): most read first without a sort; partial, so entries never read cost nothing.
  index('durable_entries_ns_hits_idx').on(t.ns, t.hits.desc(), t.key).where(sql`${t.hits} > 0`),
]);

/** Logged: configuration and counters. A row exists once configured or once counters were flushed. */
export const namespaces = pgTable('namespaces', {
  name: text('name').primaryKey(),
  configured: boolean('configured').notNull().default(false),
  defaultTtlMs: bigint('default_ttl_ms', { mode: 'number' }),
  maxEntries: bigint('max_entries', { mode: 'number' }),
  maxBytes: bigint('max_bytes', { mode: 'number' }),
  eviction: text('eviction').notNull().default('lru'),
  durable: boolean('durable').notNull().default(false),
  hits: bigint('hits', { mode: 'number' }).notNull().default(0),
  misses: bigint('misses', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
