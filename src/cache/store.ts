/**
 * Reads and writes of one cache through its local copy and its port:
 * decoding by stored content type, freshness (grace), local fill guarded by
 * the change feed, and the counters.
 */
import { BackendUnavailableError } from '../core/errors.js';
import type { CacheEntry, CachePort, WriteCondition } from '../core/port.js';
import type { Coherence } from './coherence.js';
import type { LocalCache, LocalEntry } from './local-cache.js';
import { toTtlMs, toMs, validateWriteTags, type CacheSettings } from './options.js';
import { formatContentType, parseContentType } from './serializer.js';
import type { CacheStats, Duration } from './types.js';

export interface Found {
  value: unknown;
  stale: boolean;
  source: 'local' | 'backend';
  /** The stored entry's ETag (backend reads only): lets getOrSet write only over what it saw. */
  etag?: string;
}

export interface WriteSpec {
  ttl?: Duration | null;
  tags?: string[];
  grace?: Duration;
}

export function newStats(): CacheStats {
  return {
    localHits: 0,
    backendHits: 0,
    misses: 0,
    staleServed: 0,
    factoryCalls: 0,
    factoryErrors: 0,
    singleFlightWaits: 0,
    feedReconnects: 0,
  };
}

export class CacheStore {
  readonly stats = newStats();

  constructor(
    readonly port: CachePort,
    readonly settings: CacheSettings,
    readonly local: LocalCache | null,
    readonly coherence: Coherence,
  ) {}

  get ns(): string {
    return this.settings.namespace;
  }

  /** A local hit, else the backend (filling the local copy). Throws when the backend is unreachable. */
  async read(key: string): Promise<Found | undefined> {
    const now = Date.now();
    if (this.local !== null) {
      void this.coherence.ensure();
      const entry = this.coherence.isLive() ? this.local.get(key, now) : undefined;
      if (entry !== undefined) {
        this.stats.localHits++;
        return { value: entry.value, stale: isStale(entry.freshUntil, now), source: 'local' };
      }
    }
    return this.readBackend(key);
  }

  /** `count` false: a re-check inside one getOrSet (its miss is counted once). */
  async readBackend(key: string, count = true): Promise<Found | undefined> {
    const mark = this.coherence.mark();
    const entry = await this.port.get(this.ns, key);
    if (entry === undefined) {
      if (count) this.stats.misses++;
      return undefined;
    }
    if (count) this.stats.backendHits++;
    const decoded = this.decode(entry);
    this.local?.set(key, decoded, this.coherence.unchangedSince(key, mark));
    return { value: decoded.value, stale: isStale(decoded.freshUntil, Date.now()), source: 'backend', etag: entry.etag };
  }

  /** A local value within its grace, for when the backend cannot be reached. */
  fallback(key: string): Found | undefined {
    const entry = this.local?.fallback(key, Date.now());
    return entry === undefined ? undefined : { value: entry.value, stale: true, source: 'local' };
  }

  /** `condition`: see WriteCondition; false when it did not hold (nothing written). */
  async write(key: string, value: unknown, spec: WriteSpec = {}, condition?: WriteCondition): Promise<boolean> {
    const item = this.prepare(value, spec);
    const mark = this.coherence.mark();
    const options = { ttl: item.storeTtl, tags: item.tags, contentType: item.contentType, condition };
    const result = await this.port.set(this.ns, key, item.bytes, options);
    if (!result.written) return false;
    this.afterWrite(key, value, item, mark);
    return true;
  }

  async writeMany(items: { key: string; value: unknown; ttl?: Duration | null; tags?: string[] }[]): Promise<void> {
    const prepared = items.map((item) => ({ key: item.key, value: item.value, ...this.prepare(item.value, item) }));
    const mark = this.coherence.mark();
    await this.port.setMany(
      this.ns,
      prepared.map((p) => ({ key: p.key, value: p.bytes, ttl: p.storeTtl, tags: p.tags, contentType: p.contentType })),
    );
    for (const p of prepared) this.afterWrite(p.key, p.value, p, mark);
  }

  private prepare(value: unknown, spec: WriteSpec) {
    const ttlMs = spec.ttl === undefined ? this.settings.defaultTtlMs : toTtlMs(spec.ttl, 'ttl');
    const graceMs = spec.grace === undefined ? this.settings.graceMs : toMs(spec.grace, 'grace', true);
    validateWriteTags(spec.tags);
    const serialized = this.settings.serializer.serialize(value);
    const bytes = typeof serialized === 'string' ? Buffer.from(serialized, 'utf8') : serialized;
    const now = Date.now();
    // Grace needs a known ttl: the store keeps the value ttl + grace, the content type says when it turns stale.
    const withGrace = typeof ttlMs === 'number' && graceMs > 0;
    const freshUntil = withGrace ? now + ttlMs : null;
    const storeTtl = typeof ttlMs === 'number' ? ttlMs + (withGrace ? graceMs : 0) : ttlMs;
    return {
      bytes,
      tags: spec.tags ?? [],
      storeTtl,
      freshUntil,
      expiresAt: typeof storeTtl === 'number' ? now + storeTtl : null,
      contentType: formatContentType(this.settings.serializer.contentType, freshUntil),
    };
  }

  /** A write is visible at once in the process that made it. */
  private afterWrite(key: string, value: unknown, item: ReturnType<CacheStore['prepare']>, mark: number): void {
    if (this.local === null) return;
    const entry = {
      value,
      bytes: item.bytes.byteLength,
      tags: item.tags,
      storedAt: Date.now(),
      freshUntil: item.freshUntil,
      expiresAt: item.expiresAt,
    };
    const trusted = this.coherence.unchangedSince(key, mark);
    // A read of the key still in flight (started before this write) must not store its older value over this one.
    this.coherence.touched([key]);
    this.local.set(key, entry, trusted);
    if (trusted) this.coherence.expectOwnWrite(key);
  }

  private decode(entry: CacheEntry): Omit<LocalEntry, 'epoch'> {
    const { freshUntil } = parseContentType(entry.contentType);
    return {
      value: this.settings.serializer.deserialize(entry.value, entry.contentType),
      bytes: entry.value.byteLength,
      tags: entry.tags,
      storedAt: Date.now(),
      freshUntil,
      expiresAt: entry.expiresAt,
    };
  }
}

function isStale(freshUntil: number | null, now: number): boolean {
  return freshUntil !== null && now >= freshUntil;
}

export function isUnavailable(error: unknown): boolean {
  return error instanceof BackendUnavailableError;
}
