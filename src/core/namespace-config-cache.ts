import type { NamespaceConfig } from './port.js';

/**
 * Per-process cache of namespace configuration, so writes can resolve the
 * default ttl and (on Postgres) the table without an extra round trip.
 * A change made by this process is visible at once (invalidate); a change
 * made by another process is picked up within `maxAgeMs`.
 */
export class NamespaceConfigCache {
  private readonly cached = new Map<string, { config: NamespaceConfig; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<NamespaceConfig>>();

  constructor(
    private readonly load: (ns: string) => Promise<NamespaceConfig>,
    private readonly maxAgeMs = 1000,
  ) {}

  async get(ns: string): Promise<NamespaceConfig> {
    const hit = this.cached.get(ns);
    if (hit && Date.now() - hit.loadedAt < this.maxAgeMs) return hit.config;
    const inFlight = this.loading.get(ns);
    if (inFlight) return inFlight;
    const pending: Promise<NamespaceConfig> = this.load(ns)
      .then((config) => {
        // A load invalidated while in flight may predate the change: it answers its callers but is not cached.
        if (this.loading.get(ns) === pending) this.cached.set(ns, { config, loadedAt: Date.now() });
        return config;
      })
      .finally(() => {
        if (this.loading.get(ns) === pending) this.loading.delete(ns);
      });
    this.loading.set(ns, pending);
    return pending;
  }

  /** Forgets the cached config and any load in flight, so the next get reads the current one. */
  invalidate(ns: string): void {
    this.cached.delete(ns);
    this.loading.delete(ns);
  }
}
