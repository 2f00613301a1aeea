import { describe, expect, it } from 'vitest';
import { NamespaceConfigCache } from '../../src/core/namespace-config-cache.js';
import type { NamespaceConfig } from '../../src/core/port.js';

const config = (durable: boolean): NamespaceConfig => ({
  defaultTtl: null,
  maxEntries: null,
  maxBytes: null,
  eviction: 'lru',
  durable,
  localCache: null,
});

/** A loader whose loads stay pending until the test answers them. */
function manualLoader() {
  const pending: ((c: NamespaceConfig) => void)[] = [];
  const load = (): Promise<NamespaceConfig> => new Promise((resolve) => pending.push(resolve));
  return { pending, load };
}

describe('NamespaceConfigCache', () => {
  it('shares one load between concurrent gets and caches its result', async () => {
    const { pending, load } = manualLoader();
    const cache = new NamespaceConfigCache(load, 60_000);
    const both = Promise.all([cache.get('ns'), cache.get('ns')]);
    expect(pending).toHaveLength(1);
    pending[0]?.(config(false));
    expect(await both).toEqual([config(false), config(false)]);
    expect(await cache.get('ns')).toEqual(config(false));
    expect(pending).toHaveLength(1);
  });

  it('does not cache a load that was in flight when the namespace was invalidated (it may predate the change)', async () => {
    const { pending, load } = manualLoader();
    const cache = new NamespaceConfigCache(load, 60_000);
    const stale = cache.get('ns');
    cache.invalidate('ns'); // the namespace was reconfigured while the load ran
    const fresh = cache.get('ns');
    expect(pending).toHaveLength(2);
    pending[0]?.(config(false));
    pending[1]?.(config(true));
    expect(await stale).toEqual(config(false));
    expect(await fresh).toEqual(config(true));
    expect(await cache.get('ns')).toEqual(config(true));
    expect(pending).toHaveLength(2);
  });
});

describe('NamespaceConfigCache memory', () => {
  it('does not keep outdated configs of ever new namespaces without bound', async () => {
    // maxAgeMs 0: every config is outdated as soon as it is loaded, so none need be kept.
    const cache = new NamespaceConfigCache(async () => config(false), 0);
    let largest = 0;
    for (let i = 0; i < 25_000; i++) {
      await cache.get(`ns-${i}`);
      largest = Math.max(largest, cache.size);
    }
    expect(largest).toBeLessThanOrEqual(10_000);
  });
});
