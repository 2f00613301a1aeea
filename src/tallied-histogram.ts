/**
 * A prom-client Histogram whose observations are tallied per series in plain
 * arrays (a count per bucket, sum, count) and written into the histogram when
 * it is read (its `collect` runs on every scrape and every `get()`), so the
 * output is prom-client's own: same _bucket/_sum/_count lines and `le` values.
 * Why: prom-client validates and hashes the label object on every `observe`,
 * even on a `labels()` child; the request-duration histogram is observed once
 * per request (profiled, docs/performance.md). Same idea as ./tallied-counter.ts.
 *
 * The tally holds each series' running totals (so the sum is added up in the
 * same order as prom-client would, to the last bit) and `collect` copies them
 * into prom-client's per-series state. That state (`hashMap`, one entry per
 * series made by the public `zero()`) is internal to prom-client 15:
 * test/core/tallied-histogram.test.ts compares the output line for line with
 * a plain prom-client Histogram fed the same observations, so an upgrade that
 * changes it fails there.
 */
import { Histogram, type HistogramConfiguration, type Registry } from 'prom-client';

type Labels<N extends string> = Partial<Record<N, string>>;

/** One series as prom-client 15 keeps it (lib/histogram.js, createBaseValues). */
interface PromSeries {
  labels: object;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface Series<N extends string> {
  labels: Labels<N>;
  /** Observations per bucket, not cumulative (as prom-client keeps them); above the last bound: only `count`. */
  buckets: number[];
  sum: number;
  count: number;
}

export class TalliedHistogram<N extends string> {
  readonly metric: Histogram<N>;
  private readonly bounds: readonly number[];
  private readonly series = new Map<string, Series<N>>();

  constructor(config: Omit<HistogramConfiguration<N>, 'collect' | 'registers' | 'buckets'> & { buckets: number[]; registers: Registry[] }) {
    // As given, like prom-client: an observation goes to the first bound it does not exceed.
    const bounds = [...config.buckets];
    this.bounds = bounds;
    const series = this.series;
    this.metric = new Histogram<N>({
      ...config,
      buckets: bounds,
      collect() {
        // Rebuilt from the tallies on every read: they hold the totals. (prom-client's own reset: ours drops them.)
        Histogram.prototype.reset.call(this);
        for (const s of series.values()) this.zero(s.labels);
        const state = (this as unknown as { hashMap: Record<string, PromSeries> }).hashMap;
        const byLabels = new Map<object, PromSeries>();
        for (const entry of Object.values(state)) byLabels.set(entry.labels, entry);
        for (const s of series.values()) {
          const entry = byLabels.get(s.labels);
          if (entry === undefined) throw new Error(`prom-client kept no series for ${JSON.stringify(s.labels)}`);
          for (let i = 0; i < bounds.length; i++) entry.bucketValues[String(bounds[i])] = s.buckets[i] as number;
          entry.sum = s.sum;
          entry.count = s.count;
        }
      },
    });
    // A reset from outside (registry.resetMetrics()) starts the totals over, as it does a plain Histogram's.
    this.metric.reset = () => {
      series.clear();
      Histogram.prototype.reset.call(this.metric);
    };
  }

  /** Observes `value` in the series `key` stands for; `labels` (its label values) is called the first time `key` is seen. */
  observe(key: string, labels: () => Labels<N>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: labels(), buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        s.buckets[i] = (s.buckets[i] as number) + 1;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }
}
