/**
 * The server's local caches: for a namespace whose config has `localCache`,
 * this process keeps recently read entries in memory and answers GET/HEAD
 * from them. The pieces are the library's (src/cache): the LRU
 * (local-cache.ts) and the change-feed handling (coherence.ts), fed by the
 * port's change feed, so this module never sees an adapter.
 *
 * A copy is served only while all of these hold: the namespace's feed is live
 * (before it is up and while it is down every read goes to the backend), the
 * copy is younger than localCache.ttl (counted from before the backend read
 * that fetched it), the entry has not reached its own expiresAt, and no change
 * of its key (or of the whole namespace) was announced since the read began.
 * Writes through this process drop the copies they touch at once (changed()).
 * A configuration change is seen within the port's config cache (1 s): a
 * different config (off, resized, durable switched, dropped) discards the
 * namespace's copies and its subscription.
 */
import { Coherence } from '../cache/coherence.js';
import { LocalCache } from '../cache/local-cache.js';
import type { SiblingChanges } from '../cluster-siblings.js';
import type { CacheEntry, CachePort, NamespaceConfig } from '../core/port.js';
import { localCacheEvictions, localCacheHits } from '../metrics.js';
import { namespaceLabels } from './namespace-labels.js';

export interface EntryRead {
  entry: CacheEntry | undefined;
  /** True when answered from this process's local cache. */
  local: boolean;
}

/** What a copy costs besides its value and texts (objects, bookkeeping), so many tiny entries still count. */
const ENTRY_OVERHEAD_BYTES = 256;

class NamespaceCopies {
  readonly cache: LocalCache;
  readonly coherence: Coherence;

  constructor(
    port: CachePort,
    ns: string,
    public config: NamespaceConfig,
    localConfig: NonNullable<NamespaceConfig['localCache']>,
    maxBytes: number,
  ) {
    this.cache = new LocalCache({ maxEntries: localConfig.maxEntries, maxBytes, ttlMs: localConfig.ttl });
    this.coherence = new Coherence(port, ns, this.cache);
  }

  close(): void {
    this.coherence.close();
    this.cache.clear();
  }
}

export class LocalEntryCaches {
  private readonly byNamespace = new Map<string, NamespaceCopies>();

  constructor(
    private readonly port: CachePort,
    /** Bound on the bytes of one namespace's copies (CACHE_LOCAL_CACHE_MAX_BYTES). */
    private readonly maxBytes: number,
    /** The other worker processes of this server (WEB_CONCURRENCY > 1), told of writes before they are answered. */
    private readonly siblings?: Pick<SiblingChanges, 'announce'>,
  ) {}

  /** One entry, from the local copy when allowed, else from the backend (filling the copy). */
  async get(ns: string, key: string): Promise<EntryRead> {
    const copies = await this.copiesOf(ns);
    if (copies === undefined) return { entry: await this.port.get(ns, key), local: false };
    const startedAt = Date.now();
    const copy = this.lookup(ns, copies, key, startedAt);
    if (copy !== undefined) return { entry: copy, local: true };
    const mark = copies.coherence.mark();
    const entry = await this.port.get(ns, key);
    this.fill(ns, copies, key, entry, mark, startedAt);
    return { entry, local: false };
  }

  /** As get() for several keys (same order): the keys without a usable copy in one getMany. */
  async getMany(ns: string, keys: string[]): Promise<(CacheEntry | undefined)[]> {
    const copies = await this.copiesOf(ns);
    if (copies === undefined) return this.port.getMany(ns, keys);
    const startedAt = Date.now();
    const found = keys.map((key) => this.lookup(ns, copies, key, startedAt));
    const missing = keys.filter((_, i) => found[i] === undefined);
    if (missing.length === 0) return found;
    const mark = copies.coherence.mark();
    const fetched = await this.port.getMany(ns, missing);
    let next = 0;
    return found.map((copy, i) => {
      if (copy !== undefined) return copy;
      const entry = fetched[next++];
      this.fill(ns, copies, keys[i] as string, entry, mark, startedAt);
      return entry;
    });
  }

  /** A copy to serve, counted as a local hit; undefined when there is none or the feed is not live. */
  private lookup(ns: string, copies: NamespaceCopies, key: string, now: number): CacheEntry | undefined {
    if (!copies.coherence.isLive()) {
      // Subscribes on first use, and again (at most once a second) after a failed subscription.
      void copies.coherence.ensure();
      return undefined;
    }
    const copy = copies.cache.get(key, now);
    if (copy === undefined) return undefined;
    this.port.countLocalHits(ns, 1, key);
    const namespace = namespaceLabels(this.port).label(ns);
    localCacheHits.add(namespace, () => ({ namespace }));
    return copy.value as CacheEntry;
  }

  /** Stores what a backend read found, only if nothing about the key was announced since `mark` (the read could predate that change). */
  private fill(ns: string, copies: NamespaceCopies, key: string, entry: CacheEntry | undefined, mark: number, readAt: number): void {
    if (entry === undefined || !copies.coherence.unchangedSince(key, mark) || this.byNamespace.get(ns) !== copies) return;
    const evicted = copies.cache.set(key, {
      value: { ...entry, value: compact(entry.value) },
      bytes: copyBytes(key, entry),
      tags: entry.tags,
      // The local ttl runs from before the read: a copy is never older than ttl.
      storedAt: readAt,
      freshUntil: null,
      expiresAt: entry.expiresAt,
    });
    if (evicted > 0) localCacheEvictions.inc({ namespace: namespaceLabels(this.port).label(ns) }, evicted);
  }

  /**
   * This process changed `keys` of `ns` ('all': an unknown set, e.g. by prefix or tags, or everything):
   * the copies go at once, and reads in flight do not store what they read before. Call it after the
   * write settles, whatever its outcome (a timed-out write may still have been applied).
   */
  changed(ns: string, keys: readonly string[] | 'all'): void {
    this.byNamespace.get(ns)?.coherence.touched(keys === 'all' ? 'all' : [...keys]);
  }

  /**
   * Runs a write of `keys` of `ns` and then changed(ns, keys), whether the write succeeded or not; under
   * WEB_CONCURRENCY the sibling workers drop their copies too before the write is answered.
   */
  async writing<T>(ns: string, keys: readonly string[] | 'all', write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.changed(ns, keys);
      await this.tellSiblings(ns, keys);
    }
  }

  /** The namespace was configured or dropped through this process: its copies go at once (the siblings' too). */
  reconfigured(ns: string): void {
    this.byNamespace.get(ns)?.close();
    this.byNamespace.delete(ns);
    void this.siblings?.announce(ns, 'all');
  }

  /** Only for namespaces with local caches (as this process knows the config): other writes cost no IPC. */
  private async tellSiblings(ns: string, keys: readonly string[] | 'all'): Promise<void> {
    if (this.siblings === undefined) return;
    // A config that cannot be read (backend trouble): announce anyway.
    const config = await this.port.namespaceConfig(ns).catch(() => undefined);
    if (config !== undefined && config.localCache === null && !this.byNamespace.has(ns)) return;
    await this.siblings.announce(ns, keys);
  }

  /** Unsubscribes every feed and drops every copy. */
  close(): void {
    for (const copies of this.byNamespace.values()) copies.close();
    this.byNamespace.clear();
  }

  /** The namespace's copies when its config asks for them; replaced when the config changed. */
  private async copiesOf(ns: string): Promise<NamespaceCopies | undefined> {
    const config = await this.port.namespaceConfig(ns);
    const current = this.byNamespace.get(ns);
    // The config cache hands out the same object until it reloads: the common case is one comparison.
    if (current !== undefined && (current.config === config || sameConfig(current.config, config))) {
      current.config = config;
      return current;
    }
    current?.close();
    this.byNamespace.delete(ns);
    if (config.localCache === null) return undefined;
    const copies = new NamespaceCopies(this.port, ns, config, config.localCache, this.maxBytes);
    this.byNamespace.set(ns, copies);
    return copies;
  }
}

/**
 * What a copy counts against CACHE_LOCAL_CACHE_MAX_BYTES: its value, and its key, content type and tags (up to
 * 64 × 256 bytes, far more than a small value: not counting them let a 1-byte value hold 16 KB unseen).
 * Strings count twice their length (JS strings hold up to 2 bytes per character, whatever their UTF-8).
 */
function copyBytes(key: string, entry: CacheEntry): number {
  let text = key.length + entry.contentType.length + entry.etag.length;
  for (const tag of entry.tags) text += tag.length;
  return entry.value.byteLength + 2 * text + ENTRY_OVERHEAD_BYTES + 16 * entry.tags.length;
}

/**
 * A value that is a view into a much larger buffer (a driver's reply chunk: ioredis hands out slices of what it read)
 * would keep all of it alive as long as the copy lives; such a value is copied once, when it is stored.
 */
function compact(value: Buffer): Buffer {
  return value.buffer.byteLength > 2 * value.byteLength + 1024 ? Buffer.from(value) : value;
}

function sameConfig(a: NamespaceConfig, b: NamespaceConfig): boolean {
  return (
    a.defaultTtl === b.defaultTtl &&
    a.maxEntries === b.maxEntries &&
    a.maxBytes === b.maxBytes &&
    a.eviction === b.eviction &&
    a.durable === b.durable &&
    a.localCache?.maxEntries === b.localCache?.maxEntries &&
    a.localCache?.ttl === b.localCache?.ttl
  );
}
