/**
 * CachePort: the one interface between the application and a backend.
 * Semantics are in docs/spec/cache-port.md; the contract suite in
 * test/contract checks them against every adapter.
 *
 * Units: durations are milliseconds, timestamps are epoch milliseconds (UTC).
 */

/** Bytes, or a string stored as its UTF-8. */
export type CacheValue = Uint8Array | string;

export interface CacheEntry {
  value: Buffer;
  /** As given on write; `application/octet-stream` when none was given. */
  contentType: string;
  /** Opaque; changes on every write, even of the same bytes. */
  etag: string;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
  tags: string[];
}

/**
 * `always` writes unconditionally; `absent` only if no live entry exists
 * (Redis NX); `present` only if one does (XX); `{ etag }` only if the live
 * entry's ETag equals it (compare-and-set).
 */
export type WriteCondition = 'always' | 'absent' | 'present' | { etag: string };

export interface SetOptions {
  /** ms; `undefined` → the namespace default; `null` → no expiry. */
  ttl?: number | null;
  tags?: string[];
  contentType?: string;
  condition?: WriteCondition;
}

export type SetResult = { written: true; etag: string; created: boolean } | { written: false };

export interface SetManyItem extends SetOptions {
  key: string;
  value: CacheValue;
}

export interface IncrementOptions {
  /** Applied only when the counter is created; `undefined` → namespace default. */
  ttl?: number | null;
}

// ---------------------------------------------------------------- namespaces

export type EvictionPolicy = 'lru' | 'none';

/**
 * A per-process in-memory copy of recently read entries, kept by each server
 * process for a namespace that asks for one (see docs/http.md "Local caches").
 */
export interface LocalCacheConfig {
  /** Entries each process may hold, 1 to 1,000,000. */
  maxEntries: number;
  /** ms a copy may be served after it was read from the backend, 1 ms to 1 h. */
  ttl: number;
}

export interface NamespaceConfig {
  /** ms, or null for no expiry. */
  defaultTtl: number | null;
  maxEntries: number | null;
  maxBytes: number | null;
  eviction: EvictionPolicy;
  /** Postgres: entries live in a logged (crash-safe) table. */
  durable: boolean;
  /** Null: no local caches (the default). */
  localCache: LocalCacheConfig | null;
}

export interface NamespaceStats {
  entries: number;
  /** Sum of value bytes of stored entries. */
  bytes: number;
  /** Reads answered by the backend. */
  hits: number;
  misses: number;
  /** Entries past their expiry that cleanup has not yet removed. */
  expiredPending: number;
  /** Reads answered from a server process's local cache (reported with countLocalHits), not counted in `hits`. */
  localHits: number;
}

export interface NamespaceInfo {
  name: string;
  /** False for a namespace that only holds entries and was never configured. */
  configured: boolean;
  config: NamespaceConfig;
  stats: NamespaceStats;
}

export interface ConfigureResult {
  /** True when the namespace had no configuration before. */
  created: boolean;
  config: NamespaceConfig;
}

// ---------------------------------------------------------------- key listings (issue 17)

export interface KeyListOptions {
  /** Literal prefix (no wildcards). */
  prefix?: string;
  /** Default 1000, max 10000. */
  limit?: number;
  /** From the previous page. */
  cursor?: string;
}

export interface KeyInfo {
  key: string;
  /** Value bytes. */
  size: number;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
}

export interface KeyPage {
  /** Live entries in key byte order. */
  keys: KeyInfo[];
  /** Pass as `cursor` for the next page; null when this was the last one. */
  cursor: string | null;
}

export interface TopEntry {
  key: string;
  /** Approximate read count (see docs). */
  hits: number;
  /** Epoch ms of the last recorded read, or null. */
  lastAccessAt: number | null;
}

/** Which live entries a bulk expire touches: all, those under a literal prefix, or those with any of the tags. */
export type ExpireManyFilter =
  | { prefix?: undefined; tags?: undefined }
  | { prefix: string; tags?: undefined }
  | { tags: string[]; prefix?: undefined };

export interface KeyInspector {
  /** One page of live keys, O(page) on every backend. */
  listKeys(ns: string, options?: KeyListOptions): Promise<KeyPage>;
  /** The most read live entries by approximate hits, at most `limit` (default 10, max 1000). */
  top(ns: string, options?: { limit?: number }): Promise<TopEntry[]>;
  /** Sets the expiry (ms, or null = none) of every matching live entry in bounded batches; the number updated. */
  expireMany(ns: string, ttl: number | null, filter?: ExpireManyFilter): Promise<number>;
}

// ---------------------------------------------------------------- pub/sub (issue 17)

export interface ChannelMessage {
  /** Opaque, ordered within its channel; pass as `fromId` to resume after it. */
  id: string;
  data: JsonValue;
}

/**
 * Delivered to a channel subscriber: a message, or `gap` when messages after
 * `fromId` (or published while the subscriber's backend connection was down)
 * are no longer retained; `oldestId` is the oldest message still held.
 */
export type ChannelEvent = ({ type: 'message' } & ChannelMessage) | { type: 'gap'; oldestId: string | null };

export interface SubscribeOptions {
  /** Replay the retained messages published after this id first. */
  fromId?: string;
}

export interface ChannelSubscription {
  unsubscribe(): void;
}

export interface PubSub {
  /** Stores the message for the retention window and wakes every subscriber; its id. */
  publish(channel: string, data: JsonValue): Promise<string>;
  /**
   * Resolves once every message published from now on will be delivered, in
   * publish order, at least once (within the retention window). `onEvent` is
   * called only after the returned promise has resolved (replayed messages
   * first), so a callback may unsubscribe. A dropped backend connection is
   * retried; delivery resumes after the last delivered id, or with a `gap`
   * event when that is past retention. Rejects with ValidationError (bad
   * channel, malformed fromId) or BackendUnavailableError.
   */
  subscribe(channel: string, onEvent: (event: ChannelEvent) => void, options?: SubscribeOptions): Promise<ChannelSubscription>;
}

// ---------------------------------------------------------------- rate limits

export type RateLimitAlgorithm = 'sliding-window' | 'fixed-window' | 'token-bucket';

export interface RateLimitOptions {
  limit: number;
  windowMs: number;
  /** Default 1; 0 peeks without consuming. Must not exceed `limit`. */
  cost?: number;
  /** Default `sliding-window`. */
  algorithm?: RateLimitAlgorithm;
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  /** What is left after this call; never negative. */
  remaining: number;
  /** ms until the limit is fully reset. */
  resetMs: number;
  /** ms until a call of the same cost could be allowed; 0 when allowed. */
  retryAfterMs: number;
}

// ---------------------------------------------------------------- locks

export interface Lease {
  /** Random, secret to the holder. */
  token: string;
  /** Strictly increasing per lock name; never repeats. */
  fence: number;
  expiresAt: number;
}

export interface LockState {
  held: boolean;
  expiresAt: number | null;
  /** The last fence issued for this name, or null if never acquired. */
  fence: number | null;
}

export type ReleaseResult = 'released' | 'not_held' | 'wrong_token';

// ---------------------------------------------------------------- sessions

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface CreateSessionOptions {
  subject: string;
  data?: JsonObject;
  /** Sliding ttl in ms. */
  ttl: number;
  /** Absolute lifetime in ms from creation; ≥ ttl. */
  maxAge: number;
}

export interface CreatedSession {
  /** 256-bit random base64url; only its hash is stored. */
  id: string;
  subject: string;
  createdAt: number;
  expiresAt: number;
}

export interface Session {
  subject: string;
  data: JsonObject;
  createdAt: number;
  /** After sliding. */
  expiresAt: number;
}

// ---------------------------------------------------------------- presence

export interface HeartbeatOptions {
  ttl: number;
  data?: JsonValue;
}

export interface PresenceMember {
  member: string;
  data: JsonValue;
  expiresAt: number;
}

export interface PresenceList {
  /** Live members in total, not the page size. */
  count: number;
  members: PresenceMember[];
}

// ---------------------------------------------------------------- change feed

/**
 * What happened to a namespace. A counter increment is a `set`; a ttl change
 * is `expire`; `evict` is the worker's eviction. A change without `keys`,
 * `prefix` and `tags` concerns the whole namespace (e.g. a key list too large
 * to announce): a subscriber drops everything it holds of it.
 */
export type ChangeOp = 'set' | 'delete' | 'expire' | 'prefix' | 'tags' | 'clear' | 'evict';

export interface Change {
  ns: string;
  op: ChangeOp;
  keys?: string[];
  prefix?: string;
  tags?: string[];
}

/**
 * Delivered to a subscriber: a change, or the feed going `down` (changes may
 * be missed from now on: drop what you hold and bypass it) or coming back
 * `up` (changes are delivered again; nothing from the down period is replayed).
 */
export type ChangeEvent = ({ type: 'change' } & Change) | { type: 'down'; error: Error } | { type: 'up' };

export interface ChangeSubscription {
  unsubscribe(): void;
}

export interface ChangeFeed {
  /**
   * Resolves once changes of `ns` are delivered to `onEvent` (the feed is
   * live); rejects with BackendUnavailableError when it cannot be made live.
   * Afterwards a dropped feed is reported (`down`), retried with backoff and
   * reported back (`up`).
   */
  changes(ns: string, onEvent: (event: ChangeEvent) => void): Promise<ChangeSubscription>;
}

// ---------------------------------------------------------------- the port

export interface EntryStore {
  get(ns: string, key: string): Promise<CacheEntry | undefined>;
  /** Same order as `keys`; one round trip. */
  getMany(ns: string, keys: string[]): Promise<(CacheEntry | undefined)[]>;
  set(ns: string, key: string, value: CacheValue, options?: SetOptions): Promise<SetResult>;
  setMany(ns: string, items: SetManyItem[]): Promise<SetResult[]>;
  delete(ns: string, key: string): Promise<boolean>;
  deleteMany(ns: string, keys: string[]): Promise<number>;
  has(ns: string, key: string): Promise<boolean>;
  /** Remaining ms; null when the entry never expires; undefined when absent. */
  ttl(ns: string, key: string): Promise<number | null | undefined>;
  /** Sets a new ttl (ms) or removes expiry (null). False when absent. */
  expire(ns: string, key: string, ttl: number | null): Promise<boolean>;
  /** Atomic; a missing key starts at 0. Throws NotAnIntegerError / IntegerOverflowError. */
  increment(ns: string, key: string, by?: bigint | number, options?: IncrementOptions): Promise<bigint>;
  /** Literal prefix (no wildcards). Returns the number of live entries deleted. */
  deleteByPrefix(ns: string, prefix: string): Promise<number>;
  /** Deletes entries carrying any of the tags. */
  invalidateTags(ns: string, tags: string[]): Promise<number>;
  clear(ns: string): Promise<number>;
}

/** Which namespaces a list may return: exact names and name prefixes (a confined token's patterns). */
export interface NamespaceFilter {
  names: readonly string[];
  /** `''` allows every name. */
  prefixes: readonly string[];
}

export interface NamespaceListOptions {
  limit?: number;
  cursor?: string;
  /** Absent: every namespace. */
  only?: NamespaceFilter;
}

export interface NamespacePage {
  namespaces: NamespaceInfo[];
  /** Pass as `cursor` for the next page; null when this was the last one. */
  cursor: string | null;
}

export interface NamespaceAdmin {
  /** Omitted fields take the defaults. */
  configure(ns: string, config: Partial<NamespaceConfig>): Promise<ConfigureResult>;
  describe(ns: string): Promise<NamespaceInfo>;
  /**
   * One page of the namespaces that are configured or hold entries, in name
   * order, after `cursor` (from the previous page), at most `limit` (default
   * 100, max 1000), only those `only` allows. One backend query per page, not
   * one per namespace. A page may hold fewer than `limit` namespaces (names
   * whose entries all expired are skipped); `cursor` is null on the last page.
   */
  list(options?: NamespaceListOptions): Promise<NamespacePage>;
  /** Removes configuration and entries. */
  drop(ns: string): Promise<void>;
  stats(ns: string): Promise<NamespaceStats>;
  /**
   * The namespace's configuration (the defaults when it has none), from the
   * adapter's per-process config cache: no backend call when cached, at most
   * 1 s stale for a change made by another process, current after this
   * process's own configure/drop. Unlike describe() it computes no stats, so
   * it is cheap enough for every request.
   */
  namespaceConfig(ns: string): Promise<NamespaceConfig>;
  /**
   * Adds `count` reads that a process answered from its local cache to the
   * namespace's `localHits`. Buffered in memory and written with the adapter's
   * own hit counters (about once a second, and on close); never a backend call
   * of its own, never an error. Like hits, counts of a namespace that is
   * neither configured nor holding entries are dropped. With `key` (the entry
   * those reads were of), they also count for that entry as backend reads do:
   * its read count and last read (top) and its recency (LRU eviction), so an
   * entry served from memory does not look cold to the backend.
   */
  countLocalHits(ns: string, count: number, key?: string): void;
}

export interface RateLimiter {
  /** One atomic backend operation; a denied call consumes nothing. */
  rateLimit(key: string, options: RateLimitOptions): Promise<RateLimitResult>;
}

export interface LockManager {
  /** Null when the lock is held by someone else. */
  acquire(name: string, options: { ttl: number }): Promise<Lease | null>;
  /** Null when `token` no longer holds the lock. */
  extend(name: string, token: string, ttl: number): Promise<Lease | null>;
  release(name: string, token: string): Promise<ReleaseResult>;
  inspectLock(name: string): Promise<LockState>;
}

export interface SessionStore {
  createSession(options: CreateSessionOptions): Promise<CreatedSession>;
  /** Slides the expiry (never past maxAge). Undefined when unknown or expired. */
  getSession(id: string): Promise<Session | undefined>;
  /** The subject of a live session without sliding its expiry (for access checks). Undefined when unknown or expired. */
  sessionSubject(id: string): Promise<string | undefined>;
  /** Replaces data without sliding. False when unknown or expired. */
  updateSession(id: string, data: JsonObject): Promise<boolean>;
  revokeSession(id: string): Promise<boolean>;
  /** Revokes every session of the subject; returns how many. */
  revokeSubject(subject: string): Promise<number>;
}

export interface PresenceTracker {
  heartbeat(channel: string, member: string, options: HeartbeatOptions): Promise<void>;
  /** False when the member was not present. */
  leave(channel: string, member: string): Promise<boolean>;
  members(channel: string, options?: { limit?: number }): Promise<PresenceList>;
  count(channel: string): Promise<number>;
}

/** What the adapter is using of its backend right now (exported as metrics). */
export interface BackendUsage {
  /** Backend calls started and not yet finished (a coalesced batch counts each caller). */
  inFlight: number;
  /** Connections the adapter may open (pool size), or null for one multiplexed connection. */
  poolSize: number | null;
}

export interface Lifecycle {
  readonly backend: 'postgres' | 'redis' | 'http';
  usage(): BackendUsage;
  /** Round-trip latency in ms; throws BackendUnavailableError / BackendTimeoutError. */
  ping(timeoutMs?: number): Promise<number>;
  /** Drains in-flight calls and releases connections. */
  close(): Promise<void>;
}

export interface CachePort
  extends EntryStore,
    NamespaceAdmin,
    KeyInspector,
    RateLimiter,
    LockManager,
    SessionStore,
    PresenceTracker,
    PubSub,
    Lifecycle {
  /** The namespace change feed (Postgres LISTEN/NOTIFY, Redis sharded pub/sub). */
  changes: ChangeFeed['changes'];
}
