/**
 * Public types of the application cache layer (createCache).
 * Durations are milliseconds (numbers) or duration strings ('250ms', '30s', '10m').
 */
import type { CachePort } from '../core/port.js';
import type { OpenPortOptions } from '../open-port.js';

export type Duration = number | string;

/** How values become bytes: JSON (default), raw bytes, or your own. */
export type SerializerOption =
  | 'json'
  | 'raw'
  | {
      serialize(value: unknown): Uint8Array | string;
      deserialize(bytes: Buffer): unknown;
      /** Stored with each value so readers know how to decode it (default application/x-cacheport-custom). */
      contentType?: string;
    };

export interface LocalCacheOption {
  /** Most entries kept in process memory (1 to 1,000,000). */
  maxEntries: number;
  /** Most value bytes kept (default: unbounded by bytes). */
  maxBytes?: number;
  /** Longest a value is served from memory (default 5s, at most 1h). */
  ttl?: Duration;
}

export interface TimeoutsOption {
  /** With a stale value at hand, how long a refresh may take before the stale value is returned (default 0: at once). */
  soft?: Duration;
  /** Longest a getOrSet call waits for a value (its own factory or another caller's); the factory's signal aborts then (default 10s). */
  hard?: Duration;
}

export interface CacheOptions {
  /** A port you opened (the cache never closes it). Exactly one of `port` and `url`. */
  port?: CachePort;
  /** A backend URL: the cache opens its own port on first use (openPort) and closes it on close(). */
  url?: string;
  /** openPort options for `url` (schema, prefix, token, poolMax, timeoutMs). */
  portOptions?: OpenPortOptions;
  /** Bearer token of a cacheport server, for an http:// or https:// `url` (shorthand for portOptions.token). */
  token?: string;
  namespace: string;
  serializer?: SerializerOption;
  localCache?: LocalCacheOption | false;
  /** Fresh lifetime of values written without a ttl (default: the namespace's default ttl). */
  defaultTtl?: Duration | null;
  /** How long past its ttl a value is kept and served as stale by getOrSet (default 0: no grace). */
  grace?: Duration;
  timeouts?: TimeoutsOption;
}

export interface WriteOptions {
  ttl?: Duration | null;
  tags?: string[];
  grace?: Duration;
}

export interface GetOrSetOptions extends WriteOptions {
  timeouts?: TimeoutsOption;
}

export interface FactoryContext {
  /** Aborted at timeouts.hard. */
  signal: AbortSignal;
  /** Overrides the ttl for this result. */
  setTtl(ttl: Duration | null): void;
  setTags(tags: string[]): void;
  /** Cache nothing for this result (it is still returned). */
  skip(): void;
}

export type Factory<T> = (context: FactoryContext) => Promise<T> | T;

export interface GetResult<T> {
  value: T;
  /** Past its ttl, within grace (or served from memory while the backend is unreachable). */
  stale: boolean;
  /** Where it came from. */
  source: 'local' | 'backend';
}

export interface CacheStats {
  localHits: number;
  backendHits: number;
  misses: number;
  staleServed: number;
  factoryCalls: number;
  factoryErrors: number;
  singleFlightWaits: number;
  feedReconnects: number;
}

export interface Cache {
  readonly namespace: string;
  get<T = unknown>(key: string): Promise<T | undefined>;
  get<T = unknown>(key: string, options: { metadata: true }): Promise<GetResult<T> | undefined>;
  set(key: string, value: unknown, options?: WriteOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  getMany<T = unknown>(keys: string[]): Promise<(T | undefined)[]>;
  setMany(items: { key: string; value: unknown; ttl?: Duration | null; tags?: string[] }[]): Promise<void>;
  deleteByPrefix(prefix: string): Promise<number>;
  invalidateTags(tags: string[]): Promise<number>;
  clear(): Promise<number>;
  getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T>;
  stats(): CacheStats;
  close(): Promise<void>;
}
