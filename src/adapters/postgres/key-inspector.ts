/**
 * Key listings, top entries and bulk expire on Postgres (KeyInspector), on
 * the namespace's current table (entries or durable_entries). SQL in
 * key-inspector-sql.ts; paging rule in core/key-listing.ts.
 */
import { prefixUpperBound } from '../../core/keys.js';
import {
  compareKeyBytes,
  EXPIRE_BATCH,
  prepareExpireScope,
  prepareKeyList,
  prepareTop,
  scanWindow,
  toKeyPage,
  type ExpireScope,
} from '../../core/key-listing.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { ExpireManyFilter, KeyInspector, KeyListOptions, KeyPage, TopEntry } from '../../core/port.js';
import { validateExpireTtl } from '../../core/write.js';
import { validateNamespace } from '../../core/validation.js';
import type { PgContext } from './context.js';
import { writeOnCurrentTable } from './current-table.js';
import { expireBatch, listKeysWindow, topEntries, type KeyRange } from './key-inspector-sql.js';
import type { ReadTracker } from './read-tracker.js';
import { tableFor } from './tables.js';

/** The key range of a literal prefix ('' = every key), resuming after `after`. */
function rangeOf(prefix: string, after: string | undefined): KeyRange {
  const upper = prefix === '' ? undefined : prefixUpperBound(prefix);
  const from = prefix === '' ? undefined : prefix;
  // A cursor before the prefix (from another listing) resumes at the prefix.
  const resume = after !== undefined && (from === undefined || compareKeyBytes(after, from) >= 0) ? after : undefined;
  return { from, after: resume, upper };
}

export function createPgKeyInspector(ctx: PgContext, configs: NamespaceConfigCache, tracker: ReadTracker): KeyInspector {
  const { sql, options } = ctx;

  async function listKeys(ns: string, opts?: KeyListOptions): Promise<KeyPage> {
    const request = prepareKeyList(ns, opts);
    const table = tableFor(await configs.get(ns));
    const window = scanWindow(request.limit);
    const rows = await ctx.run('listKeys', () => listKeysWindow(sql, table, ns, rangeOf(request.prefix, request.after), window));
    const scanned = rows.map((r) => ({ key: r.key, size: r.size, expiresAt: r.expires_ms, live: r.live }));
    return toKeyPage(scanned, request.limit, window);
  }

  async function top(ns: string, opts?: { limit?: number }): Promise<TopEntry[]> {
    const limit = prepareTop(ns, opts);
    // This process's reads count from the call on: write out what the tracker holds (twice: a
    // flush already in flight returns without the reads that arrived after it started).
    await tracker.flushRecency();
    await tracker.flushRecency();
    const table = tableFor(await configs.get(ns));
    const rows = await ctx.run('top', () => topEntries(sql, table, ns, limit));
    return rows.map((r) => ({ key: r.key, hits: r.hits, lastAccessAt: r.read_ms }));
  }

  async function expireMany(ns: string, ttl: number | null, filter?: ExpireManyFilter): Promise<number> {
    validateNamespace(ns);
    validateExpireTtl(ttl);
    const scope: ExpireScope = prepareExpireScope(filter);
    const prefix = scope.kind === 'prefix' ? scope.prefix : '';
    const tags = scope.kind === 'tags' ? scope.tags : undefined;
    let updated = 0;
    let after: string | undefined;
    // One statement (one transaction) per batch: other writers wait for at most one batch's row locks.
    for (;;) {
      const range = rangeOf(prefix, after);
      const [row] = await writeOnCurrentTable(configs, options.timeoutMs, ns, (_config, table) =>
        ctx.run('expireMany', () => expireBatch(sql, table, ns, range, tags, ttl, EXPIRE_BATCH)),
      );
      // A batch locks what is live when it runs; FOR UPDATE may return fewer than EXPIRE_BATCH rows
      // while more follow (a row changed under it), so only a batch that found nothing ends the walk.
      if (!row || row.last === null) return updated;
      updated += row.n;
      after = row.last;
    }
  }

  return { listKeys, top, expireMany };
}
