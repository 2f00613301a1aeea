/**
 * The in-process L1: an LRU bounded by entries and by value bytes. An entry
 * is served normally while it is younger than the local ttl and was stored
 * in the current feed epoch (the feed has not dropped since). Entries from an
 * earlier epoch are kept only as a last resort while the backend is
 * unreachable (fallback): only values written with grace, and only within it
 * (until their store expiry, ttl + grace).
 */
import type { LocalCacheSettings } from './options.js';

export interface LocalEntry {
  value: unknown;
  bytes: number;
  tags: string[];
  /** When it was stored here (local ttl runs from it). */
  storedAt: number;
  /** Logical fresh-until (ms), or null: fresh until it expires. */
  freshUntil: number | null;
  /** Store expiry (ttl + grace), or null for none. */
  expiresAt: number | null;
  epoch: number;
}

export class LocalCache {
  private readonly entries = new Map<string, LocalEntry>();
  private bytes = 0;
  private epoch = 0;

  constructor(private readonly settings: LocalCacheSettings) {}

  get size(): number {
    return this.entries.size;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  /** An entry to serve normally, or undefined. */
  get(key: string, now: number): LocalEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.epoch !== this.epoch || now - entry.storedAt >= this.settings.ttlMs || expired(entry, now)) return undefined;
    // Map order is insertion order: re-inserting makes it the most recent.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /**
   * For when the backend is unreachable: an entry written with grace (it has a
   * fresh-until and a store expiry) and still within its store expiry, whatever
   * its epoch or local age. A value without grace is never served from here.
   */
  fallback(key: string, now: number): LocalEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.freshUntil === null || entry.expiresAt === null) return undefined;
    return expired(entry, now) ? undefined : entry;
  }

  /**
   * `trusted` false: kept only as outage fallback (the feed was not live, or the key changed while it was read).
   * Returns how many other entries it evicted (least recently used first) to stay within the bounds.
   */
  set(key: string, entry: Omit<LocalEntry, 'epoch'>, trusted = true): number {
    if (entry.bytes > this.settings.maxBytes) {
      this.delete(key);
      return 0;
    }
    this.delete(key);
    this.entries.set(key, { ...entry, epoch: trusted ? this.epoch : -1 });
    this.bytes += entry.bytes;
    let evicted = 0;
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.settings.maxEntries && this.bytes <= this.settings.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= old.bytes;
      evicted++;
    }
    return evicted;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  deleteWhere(match: (key: string, entry: LocalEntry) => boolean): void {
    for (const [key, entry] of this.entries) if (match(key, entry)) this.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** The feed dropped: nothing held now is served normally again (kept only as outage fallback). */
  distrustAll(): void {
    this.epoch++;
  }
}

function expired(entry: LocalEntry, now: number): boolean {
  return entry.expiresAt !== null && now >= entry.expiresAt;
}
