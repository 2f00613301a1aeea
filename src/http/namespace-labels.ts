/**
 * Metric labels for namespaces. Only configured namespaces get their own
 * series; every other name is summed as `_other`, so a client reading made-up
 * namespaces neither grows the metrics nor lists its probes on /metrics.
 *
 * The set of configured namespaces is learned from this process's own
 * configure/drop calls at once, and from the port's namespace list at most
 * once a minute (refreshed in the background, never on the request path).
 */
import { allNamespaces, type NamespaceLister } from '../core/namespace-list.js';

export const OTHER_NAMESPACES = '_other';
const REFRESH_MS = 60_000;

export class NamespaceLabels {
  private configured = new Set<string>();
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing = false;
  /** This process's configure (true) and drop (false) calls while a refresh runs: newer than its snapshot. */
  private readonly changedDuringRefresh = new Map<string, boolean>();

  constructor(private readonly port: NamespaceLister) {}

  /** The label for `ns`: its name when configured, else `_other`. */
  label(ns: string): string {
    this.refreshIfStale();
    return this.configured.has(ns) ? ns : OTHER_NAMESPACES;
  }

  configuredNow(ns: string): void {
    this.configured.add(ns);
    if (this.refreshing) this.changedDuringRefresh.set(ns, true);
  }

  droppedNow(ns: string): void {
    this.configured.delete(ns);
    if (this.refreshing) this.changedDuringRefresh.set(ns, false);
  }

  private refreshIfStale(): void {
    if (this.refreshing || Date.now() - this.refreshedAt < REFRESH_MS) return;
    this.refreshing = true;
    this.refreshedAt = Date.now();
    collectConfigured(this.port)
      .then((names) => {
        for (const [ns, configured] of this.changedDuringRefresh) {
          if (configured) names.add(ns);
          else names.delete(ns);
        }
        this.configured = names;
      })
      // A failed refresh keeps the labels it had; the next one comes a minute later.
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = false;
        this.changedDuringRefresh.clear();
      });
  }
}

async function collectConfigured(port: NamespaceLister): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const info of allNamespaces(port)) if (info.configured) names.add(info.name);
  return names;
}

const byPort = new WeakMap<object, NamespaceLabels>();

/** One label set per port (per app), created on first use. */
export function namespaceLabels(port: NamespaceLister): NamespaceLabels {
  let labels = byPort.get(port);
  if (!labels) {
    labels = new NamespaceLabels(port);
    byPort.set(port, labels);
  }
  return labels;
}
