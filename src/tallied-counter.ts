/**
 * A prom-client Counter whose per-request increments are tallied in a plain
 * Map and handed to prom-client when the metric is read (its `collect` runs on
 * every scrape and every `get()`), so what /metrics shows is the same. Why:
 * prom-client validates and hashes the label object on every `inc()`, even on
 * a `labels()` child; on the HTTP GET path that was several inc() calls per
 * request (profiled, docs/performance.md). The series set is as bounded as
 * the label values the callers pass (namespace labels, route patterns).
 */
import { Counter, type CounterConfiguration, type Registry } from 'prom-client';

type Labels<N extends string> = Partial<Record<N, string>>;

interface Tally<N extends string> {
  labels: Labels<N>;
  count: number;
}

export class TalliedCounter<N extends string> {
  readonly metric: Counter<N>;
  private readonly tallies = new Map<string, Tally<N>>();

  constructor(config: Omit<CounterConfiguration<N>, 'collect' | 'registers'> & { registers: Registry[] }) {
    const tallies = this.tallies;
    this.metric = new Counter<N>({
      ...config,
      collect() {
        for (const tally of tallies.values()) {
          if (tally.count === 0) continue;
          this.inc(tally.labels, tally.count);
          tally.count = 0;
        }
      },
    });
    // A reset (registry.resetMetrics()) also drops what was tallied since the last read, as a plain Counter would have.
    this.metric.reset = () => {
      tallies.clear();
      Counter.prototype.reset.call(this.metric);
    };
  }

  /** Adds `n` to the series `key` stands for; `labels` (its label values) is called the first time `key` is seen. */
  add(key: string, labels: () => Labels<N>, n = 1): void {
    const tally = this.tallies.get(key);
    if (tally !== undefined) tally.count += n;
    else this.tallies.set(key, { labels: labels(), count: n });
  }
}
