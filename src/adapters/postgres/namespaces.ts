/**
 * Namespace configuration and stats on Postgres. Configuration lives in the
 * logged `namespaces` table; a row with `configured = false` only carries
 * flushed hit/miss counters. Every call costs O(namespace), never O(all keys).
 */
import { completeNamespaceConfig, defaultNamespaceConfig } from '../../core/defaults.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import { prepareNamespaceList, toNamespacePage } from '../../core/namespace-list.js';
import type {
  ConfigureResult,
  EvictionPolicy,
  NamespaceAdmin,
  NamespaceConfig,
  NamespaceInfo,
  NamespaceListOptions,
  NamespacePage,
  NamespaceStats,
} from '../../core/port.js';
import { validateNamespace, validateNamespaceConfig } from '../../core/validation.js';
import type { Queryable, Sql } from './connection.js';
import type { PgContext } from './context.js';
import { clearNamespace } from './entries.js';
import { live } from './entry-sql.js';
import type { ReadTracker } from './read-tracker.js';
import { tableFor, type EntryTable } from './tables.js';

interface ConfigRow {
  configured: boolean;
  default_ttl_ms: bigint | null;
  max_entries: bigint | null;
  max_bytes: bigint | null;
  eviction: string;
  durable: boolean;
  local_cache_max_entries: number | null;
  local_cache_ttl_ms: number | null;
}

interface StatsRow {
  entries: number;
  bytes: number;
  expired: number;
  hits: number;
  misses: number;
  local_hits: number;
  /** The namespace has a row of its own (configured, or counters written); absent from list rows, which exist by definition. */
  has_row?: boolean;
}

/** The columns ConfigRow reads. */
const CONFIG_COLUMNS = (sql: Queryable) =>
  sql`configured, default_ttl_ms, max_entries, max_bytes, eviction, durable, local_cache_max_entries, local_cache_ttl_ms`;

/** Loads a namespace's configuration, or the defaults when it has none. For the NamespaceConfigCache. */
export async function loadNamespaceConfig(sql: Sql, ns: string, defaultTtl: number | null): Promise<NamespaceConfig> {
  const rows = await sql<ConfigRow[]>`
    SELECT ${CONFIG_COLUMNS(sql)} FROM namespaces WHERE name = ${ns} AND configured`;
  const row = rows[0];
  return row ? toConfig(row) : defaultNamespaceConfig(defaultTtl);
}

export function createPgNamespaceAdmin(ctx: PgContext, configs: NamespaceConfigCache, tracker: ReadTracker): NamespaceAdmin {
  const { sql, options } = ctx;

  async function configure(ns: string, partial: Partial<NamespaceConfig>): Promise<ConfigureResult> {
    validateNamespace(ns);
    validateNamespaceConfig(partial);
    const config = completeNamespaceConfig(partial, options.defaultTtl);
    const created = await ctx.run(
      'configure',
      () =>
        sql.begin(async (tx) => {
          // Serializes configure/drop of one namespace, so `created` and the table move are exact.
          await tx`SELECT pg_advisory_xact_lock(hashtext(${'cacheport:ns:' + ns}))`;
          const before = await tx<{ configured: boolean; durable: boolean }[]>`
        SELECT configured, durable FROM namespaces WHERE name = ${ns}`;
          const wasConfigured = before[0]?.configured === true;
          const wasDurable = wasConfigured && before[0]?.durable === true;
          await tx`
        INSERT INTO namespaces AS n (name, configured, default_ttl_ms, max_entries, max_bytes, eviction, durable,
                                     local_cache_max_entries, local_cache_ttl_ms)
        VALUES (${ns}, true, ${config.defaultTtl}, ${config.maxEntries}, ${config.maxBytes}, ${config.eviction}, ${config.durable},
                ${config.localCache?.maxEntries ?? null}, ${config.localCache?.ttl ?? null})
        ON CONFLICT (name) DO UPDATE SET
          configured = true, default_ttl_ms = excluded.default_ttl_ms, max_entries = excluded.max_entries,
          max_bytes = excluded.max_bytes, eviction = excluded.eviction, durable = excluded.durable,
          local_cache_max_entries = excluded.local_cache_max_entries, local_cache_ttl_ms = excluded.local_cache_ttl_ms,
          updated_at = now()`;
          if (wasDurable !== config.durable) {
            await moveRows(tx, ns, tableFor(config));
          }
          return !wasConfigured;
        }) as Promise<boolean>,
    );
    configs.invalidate(ns);
    return { created, config };
  }

  async function stats(ns: string): Promise<NamespaceStats> {
    validateNamespace(ns);
    const rows = await ctx.run('stats', () => statsOf(sql, ns));
    return withUnflushed(ns, rows[0]);
  }

  async function describe(ns: string): Promise<NamespaceInfo> {
    validateNamespace(ns);
    const [configRows, statRows] = await ctx.run('describe', () =>
      Promise.all([
        sql<ConfigRow[]>`
        SELECT ${CONFIG_COLUMNS(sql)} FROM namespaces WHERE name = ${ns} AND configured`,
        statsOf(sql, ns),
      ]),
    );
    const row = configRows[0];
    return {
      name: ns,
      configured: row !== undefined,
      config: row ? toConfig(row) : defaultNamespaceConfig(options.defaultTtl),
      stats: withUnflushed(ns, statRows[0]),
    };
  }

  /**
   * One statement per page. Candidates after the cursor come from three
   * sources, each cut at limit + 1 before they are merged: configured names,
   * and the distinct namespaces of each entry table by skip scan (each step of
   * the recursive CTE is one index probe for the next distinct ns on the
   * primary key, and the CTE runs only as far as the LIMIT pulls it). Each
   * candidate then gets its configuration and stats in the same statement.
   */
  async function list(listOptions?: NamespaceListOptions): Promise<NamespacePage> {
    const { limit, after, only } = prepareNamespaceList(listOptions);
    const start = after ?? '';
    const anyName = only === undefined || only.prefixes.includes('');
    const names = [...(only?.names ?? [])];
    const prefixes = [...(only?.prefixes ?? [])];
    const allowed = (column: string) =>
      anyName
        ? sql`true`
        : sql`(${sql(column)} = ANY(${names}::text[])
      OR EXISTS (SELECT 1 FROM unnest(${prefixes}::text[]) AS p(prefix) WHERE starts_with(${sql(column)}, p.prefix)))`;
    const rows = await ctx.run(
      'list',
      () => sql<(ConfigRow & StatsRow & { name: string; configured: boolean | null })[]>`
      WITH RECURSIVE
        e(ns) AS (
          (SELECT ns FROM entries WHERE ns > ${start} ORDER BY ns LIMIT 1)
          UNION ALL
          SELECT (SELECT ns FROM entries WHERE ns > e.ns ORDER BY ns LIMIT 1) FROM e WHERE e.ns IS NOT NULL
        ),
        d(ns) AS (
          (SELECT ns FROM durable_entries WHERE ns > ${start} ORDER BY ns LIMIT 1)
          UNION ALL
          SELECT (SELECT ns FROM durable_entries WHERE ns > d.ns ORDER BY ns LIMIT 1) FROM d WHERE d.ns IS NOT NULL
        ),
        page(name) AS (
          SELECT name FROM (
            (SELECT name FROM namespaces WHERE configured AND name > ${start} AND ${allowed('name')} ORDER BY name LIMIT ${limit + 1})
            UNION (SELECT ns FROM e WHERE ns IS NOT NULL AND ${allowed('ns')} LIMIT ${limit + 1})
            UNION (SELECT ns FROM d WHERE ns IS NOT NULL AND ${allowed('ns')} LIMIT ${limit + 1})
          ) AS candidates ORDER BY name LIMIT ${limit + 1}
        )
      SELECT page.name, n.configured, n.default_ttl_ms, n.max_entries, n.max_bytes, n.eviction, n.durable,
             n.local_cache_max_entries, n.local_cache_ttl_ms,
             s.entries, s.bytes, s.expired, coalesce(n.hits, 0)::float8 AS hits, coalesce(n.misses, 0)::float8 AS misses,
             coalesce(n.local_hits, 0)::float8 AS local_hits
        FROM page
        LEFT JOIN namespaces n ON n.name = page.name
        CROSS JOIN LATERAL (
          SELECT count(*) FILTER (WHERE live)::float8 AS entries,
                 coalesce(sum(size) FILTER (WHERE live), 0)::float8 AS bytes,
                 count(*) FILTER (WHERE NOT live)::float8 AS expired
            FROM (
              SELECT size, (expires_at IS NULL OR expires_at > now()) AS live FROM entries WHERE ns = page.name
              UNION ALL
              SELECT size, (expires_at IS NULL OR expires_at > now()) AS live FROM durable_entries WHERE ns = page.name
            ) AS rows
        ) AS s
       ORDER BY page.name`,
    );
    const infos = rows.map((row): NamespaceInfo => {
      const configured = row.configured === true;
      return {
        name: row.name,
        configured,
        config: configured ? toConfig(row) : defaultNamespaceConfig(options.defaultTtl),
        stats: withUnflushed(row.name, row),
      };
    });
    return toNamespacePage(infos, limit);
  }

  async function drop(ns: string): Promise<void> {
    validateNamespace(ns);
    await ctx.run('drop', () =>
      sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${'cacheport:ns:' + ns}))`;
        await clearNamespace(tx, ns);
        await tx`DELETE FROM namespaces WHERE name = ${ns}`;
      }),
    );
    tracker.forget(ns);
    configs.invalidate(ns);
  }

  /**
   * The stored stats plus this process's counts not yet flushed, but only for a namespace the flush
   * would count into (configured or holding rows): reads of an unknown namespace show nothing.
   */
  function withUnflushed(ns: string, row: StatsRow | undefined): NamespaceStats {
    const exists = row !== undefined && (row.has_row !== false || row.entries > 0 || row.expired > 0);
    const pending = exists ? tracker.unflushed(ns) : { hits: 0, misses: 0, localHits: 0 };
    return {
      entries: row?.entries ?? 0,
      bytes: row?.bytes ?? 0,
      hits: (row?.hits ?? 0) + pending.hits,
      misses: (row?.misses ?? 0) + pending.misses,
      expiredPending: row?.expired ?? 0,
      localHits: (row?.local_hits ?? 0) + pending.localHits,
    };
  }

  async function namespaceConfig(ns: string): Promise<NamespaceConfig> {
    validateNamespace(ns);
    return configs.get(ns);
  }

  function countLocalHits(ns: string, count: number, key?: string): void {
    // The table as last known (a copy exists only after a read resolved it); after a storage switch the touch finds no row.
    const config = key === undefined ? undefined : configs.peek(ns);
    tracker.localHits(ns, count, key === undefined || config === undefined ? undefined : { table: tableFor(config), key });
  }

  return { configure, describe, list, drop, stats, namespaceConfig, countLocalHits };
}

/** Live entries, their bytes and expired-but-not-removed rows, over both tables (primary-key range on ns). */
function statsOf(sql: Queryable, ns: string) {
  return sql<StatsRow[]>`
    WITH rows AS (
      SELECT e.size, ${live(sql)} AS live FROM entries AS e WHERE e.ns = ${ns}
      UNION ALL
      SELECT e.size, ${live(sql)} AS live FROM durable_entries AS e WHERE e.ns = ${ns}
    )
    SELECT count(*) FILTER (WHERE live)::float8 AS entries,
           coalesce(sum(size) FILTER (WHERE live), 0)::float8 AS bytes,
           count(*) FILTER (WHERE NOT live)::float8 AS expired,
           coalesce((SELECT hits FROM namespaces WHERE name = ${ns}), 0)::float8 AS hits,
           coalesce((SELECT misses FROM namespaces WHERE name = ${ns}), 0)::float8 AS misses,
           coalesce((SELECT local_hits FROM namespaces WHERE name = ${ns}), 0)::float8 AS local_hits,
           EXISTS (SELECT 1 FROM namespaces WHERE name = ${ns}) AS has_row
      FROM rows`;
}

/**
 * Moves a namespace's rows into the table its new config names, inside the
 * caller's transaction (the other entry table is the source). The caller holds
 * the namespace lock exclusively, so no write is in flight (writers take it
 * shared through cacheport_entry_guard) and this statement sees every row. A
 * row already in the target (left by an older version) is replaced only by a
 * newer one.
 */
async function moveRows(tx: Queryable, ns: string, to: EntryTable): Promise<void> {
  const from: EntryTable = to === 'durable_entries' ? 'entries' : 'durable_entries';
  await tx`
    WITH moved AS (DELETE FROM ${tx(from)} WHERE ns = ${ns} RETURNING *)
    INSERT INTO ${tx(to)} AS e SELECT * FROM moved ORDER BY key
    ON CONFLICT (ns, key) DO UPDATE SET
      value = excluded.value, content_type = excluded.content_type, etag = excluded.etag, tags = excluded.tags,
      size = excluded.size, created_at = excluded.created_at, updated_at = excluded.updated_at,
      expires_at = excluded.expires_at, accessed_at = excluded.accessed_at, hits = excluded.hits, read_at = excluded.read_at
    WHERE excluded.updated_at > e.updated_at`;
}

function toConfig(row: ConfigRow): NamespaceConfig {
  return {
    defaultTtl: row.default_ttl_ms === null ? null : Number(row.default_ttl_ms),
    maxEntries: row.max_entries === null ? null : Number(row.max_entries),
    maxBytes: row.max_bytes === null ? null : Number(row.max_bytes),
    eviction: row.eviction as EvictionPolicy,
    durable: row.durable,
    localCache:
      row.local_cache_max_entries === null || row.local_cache_ttl_ms === null
        ? null
        : { maxEntries: row.local_cache_max_entries, ttl: row.local_cache_ttl_ms },
  };
}
