import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedHistogram } from '../../src/tallied-histogram.js';

type Name = 'method' | 'route' | 'status';
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const config = { name: 'test_duration_seconds', help: 'test latency', labelNames: ['method', 'route', 'status'] as const, buckets };

/** The same observations, one per (series, value), fed to a TalliedHistogram and to a plain prom-client Histogram. */
function both(): {
  tallied: { registry: Registry; histogram: TalliedHistogram<Name> };
  plain: { registry: Registry; histogram: Histogram<Name> };
  observe(method: string, route: string, status: string, value: number): void;
} {
  const tallied = { registry: new Registry(), histogram: undefined as unknown as TalliedHistogram<Name> };
  tallied.histogram = new TalliedHistogram<Name>({ ...config, registers: [tallied.registry] });
  const plainRegistry = new Registry();
  const plain = { registry: plainRegistry, histogram: new Histogram<Name>({ ...config, registers: [plainRegistry] }) };
  return {
    tallied,
    plain,
    observe(method, route, status, value) {
      tallied.histogram.observe(`${method} ${route} ${status}`, () => ({ method, route, status }), value);
      plain.histogram.labels({ method, route, status }).observe(value);
    },
  };
}

// Values on, between, below and above the bucket bounds, with sums that do not add up exactly in binary.
const values = [0.0001, 0.001, 0.0011, 0.0025, 0.003, 0.1, 0.1, 0.2, 0.30000000000000004, 1, 4.9, 5, 7.5, 120];

describe('TalliedHistogram', () => {
  it('renders the same /metrics text as prom-client for the same observations, scrape after scrape', async () => {
    const { tallied, plain, observe } = both();
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
    values.forEach((v, i) => observe('GET', '/health', '200', v * (1 + i / 7)));
    values.forEach((v) => observe('PUT', '/v1/cache/{namespace}/{key}', '204', v));
    observe('GET', 'unmatched', '404', 0.0004);
    const first = await tallied.registry.metrics();
    expect(first).toContain('test_duration_seconds_bucket{le="0.001",method="PUT",route="/v1/cache/{namespace}/{key}",status="204"} 2');
    expect(first).toBe(await plain.registry.metrics());
    // Counting continues after a scrape; a second scrape without observations shows the same totals.
    values.forEach((v) => observe('GET', '/health', '200', v / 3));
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
  });

  it('get() gives the same values as prom-client', async () => {
    const { tallied, plain, observe } = both();
    for (const v of values) observe('HEAD', '/v1/cache/{namespace}/{key}', '200', v);
    expect(await tallied.histogram.metric.get()).toEqual(await plain.histogram.get());
  });

  it('asks for the label values only the first time a key is seen', () => {
    const { tallied } = both();
    let built = 0;
    const labels = () => {
      built++;
      return { method: 'GET', route: '/health', status: '200' };
    };
    for (let i = 0; i < 3; i++) tallied.histogram.observe('GET /health 200', labels, 0.002);
    expect(built).toBe(1);
  });

  it('registry.resetMetrics() starts it over, as it does a prom-client Histogram, and scraping goes on', async () => {
    const { tallied, plain, observe } = both();
    values.forEach((v) => observe('GET', '/health', '200', v));
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
    observe('PUT', '/v1/cache/{namespace}/{key}', '204', 0.01);
    tallied.registry.resetMetrics();
    plain.registry.resetMetrics();
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
    observe('GET', '/health', '200', 0.2);
    expect(await tallied.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await tallied.registry.metrics()).toContain('test_duration_seconds_count{method="GET",route="/health",status="200"} 1');
  });

  it('refuses a value that is not a finite number, like prom-client', () => {
    const { tallied } = both();
    expect(() => tallied.histogram.observe('k', () => ({ method: 'GET' }), Number.NaN)).toThrow(TypeError);
  });
});
