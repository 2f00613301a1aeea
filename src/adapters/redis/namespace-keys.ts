/**
 * Key names of one namespace's entries and indexes (see entry-scripts.ts for
 * the layout). All share the hash tag `{ns}`, so a namespace lives in one
 * Redis Cluster slot and every script over it is single-slot.
 */
import type { RedisContext } from './context.js';

export interface NamespaceKeys {
  /** `P:{ns}:` — an entry's key is this plus the user key. */
  entryPrefix: string;
  /** zset of all keys, score 0. The set script derives the entry and tag prefixes from this name: keep `#keys` last. */
  keysIndex: string;
  /** `P:{ns}#tag:` — a tag's set is this plus the tag. */
  tagPrefix: string;
  /** set of tag names in use. */
  tagNames: string;
  /** hash: the namespace configuration. */
  config: string;
  /** hash: hits, misses. */
  counters: string;
  /** zset: approximate reads per key (score = -reads), for top(); members of entries that are gone are pruned lazily. */
  hitsIndex: string;
  /** `P:{ns}#changes`: the shard channel of the change feed (a channel, not a key; same slot as the keys). */
  changes: string;
}

/** Per context: key names are built (and kinds checked) once per namespace, not per call. */
const memo = new WeakMap<RedisContext, Map<string, NamespaceKeys>>();
/** Bound on remembered namespaces per context; past it the memo starts over. */
const MEMO_LIMIT = 10_000;

export function namespaceKeys(ctx: RedisContext, ns: string): NamespaceKeys {
  let byNs = memo.get(ctx);
  if (!byNs) {
    byNs = new Map();
    memo.set(ctx, byNs);
  }
  let keys = byNs.get(ns);
  if (!keys) {
    if (byNs.size >= MEMO_LIMIT) byNs.clear();
    keys = buildNamespaceKeys(ctx, ns);
    byNs.set(ns, keys);
  }
  return keys;
}

function buildNamespaceKeys(ctx: RedisContext, ns: string): NamespaceKeys {
  return {
    entryPrefix: `${ctx.prefix}:{${ns}}:`,
    keysIndex: ctx.nsKey(ns, 'keys'),
    tagPrefix: `${ctx.nsKey(ns, 'tag')}:`,
    tagNames: ctx.nsKey(ns, 'tags'),
    config: ctx.nsKey(ns, 'config'),
    counters: ctx.nsKey(ns, 'counters'),
    hitsIndex: ctx.nsKey(ns, 'hits'),
    changes: ctx.nsKey(ns, 'changes'),
  };
}

/** The one builder of an entry's key: `P:{ns}:key` (scripts derive it from entryPrefix, never by other means). */
export function entryKey(ctx: RedisContext, ns: string, key: string): string {
  return namespaceKeys(ctx, ns).entryPrefix + key;
}

/** Global sorted set (all scores 0, so in name order) of namespace names, configured or holding entries; its own slot. */
export function namespaceRegistryKey(ctx: RedisContext): string {
  return ctx.globalKey('namespace-index');
}

/** Where versions before the paged list kept the registry (a plain set); moved into the sorted set by list(). */
export function legacyNamespaceRegistryKey(ctx: RedisContext): string {
  return ctx.globalKey('namespaces');
}
