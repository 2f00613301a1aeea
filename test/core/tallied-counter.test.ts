import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter } from '../../src/tallied-counter.js';

function fresh(): { registry: Registry; counter: TalliedCounter<'namespace' | 'result'> } {
  const registry = new Registry();
  const counter = new TalliedCounter({
    name: 'test_tallied_total',
    help: 'test',
    labelNames: ['namespace', 'result'] as const,
    registers: [registry],
  });
  return { registry, counter };
}

describe('TalliedCounter', () => {
  it('shows tallied counts per series on a scrape, and keeps counting after it', async () => {
    const { registry, counter } = fresh();
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }));
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }), 2);
    counter.add('b miss', () => ({ namespace: 'b', result: 'miss' }));
    const first = await registry.metrics();
    expect(first).toContain('test_tallied_total{namespace="a",result="hit"} 3');
    expect(first).toContain('test_tallied_total{namespace="b",result="miss"} 1');
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }));
    const second = await registry.metrics();
    expect(second).toContain('test_tallied_total{namespace="a",result="hit"} 4');
    expect(second).toContain('test_tallied_total{namespace="b",result="miss"} 1');
  });

  it('registry.resetMetrics() drops what was counted, also what was tallied since the last scrape', async () => {
    const { registry, counter } = fresh();
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }), 3);
    expect(await registry.metrics()).toContain('test_tallied_total{namespace="a",result="hit"} 3');
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }), 2);
    counter.add('b miss', () => ({ namespace: 'b', result: 'miss' }));
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('test_tallied_total{');
    counter.add('a hit', () => ({ namespace: 'a', result: 'hit' }));
    expect(await registry.metrics()).toContain('test_tallied_total{namespace="a",result="hit"} 1');
  });

  it('get() includes what was tallied since the last read', async () => {
    const { counter } = fresh();
    counter.add('x', () => ({ namespace: 'x', result: 'hit' }), 5);
    const { values } = await counter.metric.get();
    expect(values).toEqual([{ labels: { namespace: 'x', result: 'hit' }, value: 5 }]);
  });

  it('asks for the label values only the first time a key is seen', () => {
    const { counter } = fresh();
    let built = 0;
    const labels = () => {
      built++;
      return { namespace: 'n', result: 'hit' };
    };
    for (let i = 0; i < 3; i++) counter.add('n hit', labels);
    expect(built).toBe(1);
  });
});
