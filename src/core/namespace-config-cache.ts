import type { NamespaceConfig } from './port.js';

/**
 * Per-process cache of namespace configuration, so writes can resolve the
 * default ttl and (on Postgres) the table without an extra round trip.
 * A change made by this process is visible at once (invalidate); a change
 * made by another process is picked up within `maxAgeMs`.
 */
/** Cached configs held before outdated ones are swept (reads of ever new namespace names must not grow memory without bound). */
const SWEEP_FROM = 10_000;

export class NamespaceConfigCache {
  private readonly cached = new Map<string, { config: NamespaceConfig; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<NamespaceConfig>>();
  /** The size at which outdated entries are swept next: twice what a sweep kept, so sweeping costs O(1) per load. */
  private sweepAt = SWEEP_FROM;

  constructor(
    private readonly load: (ns: string) => Promise<NamespaceConfig>,
    private readonly maxAgeMs = 1000,
  ) {}

  async get(ns: string): Promise<NamespaceConfig> {
    const hit = this.fresh(ns);
    if (hit) return hit;
    const inFlight = this.loading.get(ns);
    if (inFlight) return inFlight;
    const pending: Promise<NamespaceConfig> = this.load(ns)
      .then((config) => {
        // A load invalidated while in flight may predate the change: it answers its callers but is not cached.
        if (this.loading.get(ns) === pending) {
          this.cached.set(ns, { config, loadedAt: Date.now() });
          if (this.cached.size >= this.sweepAt) this.sweep();
        }
        return config;
      })
      .finally(() => {
        if (this.loading.get(ns) === pending) this.loading.delete(ns);
      });
    this.loading.set(ns, pending);
    return pending;
  }

  /** The cached config while it is younger than maxAgeMs, else undefined: get's answer without a promise (hot paths). */
  fresh(ns: string): NamespaceConfig | undefined {
    const hit = this.cached.get(ns);
    return hit && Date.now() - hit.loadedAt < this.maxAgeMs ? hit.config : undefined;
  }

  /** The config as last loaded, however old (undefined when none is held); never a load. */
  peek(ns: string): NamespaceConfig | undefined {
    return this.cached.get(ns)?.config;
  }

  /** Configs held (loaded and not yet swept). */
  get size(): number {
    return this.cached.size;
  }

  /** Drops the configs too old to be answered again (a later get reloads them anyway). */
  private sweep(): void {
    const now = Date.now();
    for (const [ns, hit] of this.cached) if (now - hit.loadedAt >= this.maxAgeMs) this.cached.delete(ns);
    this.sweepAt = Math.max(SWEEP_FROM, 2 * this.cached.size);
  }

  /** Forgets the cached config and any load in flight, so the next get reads the current one. */
  invalidate(ns: string): void {
    this.cached.delete(ns);
    this.loading.delete(ns);
  }
}
