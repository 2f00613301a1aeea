/**
 * createCache: a cache bound to one namespace of a port, with an optional
 * local copy kept coherent by the change feed, grace, and getOrSet.
 * Synchronous: nothing connects until the first call.
 */
import { validateKey, validateKeys, validatePrefix, validateTags } from '../core/validation.js';
import { Coherence } from './coherence.js';
import { GetOrSet } from './get-or-set.js';
import { LocalCache } from './local-cache.js';
import { lazyPort } from './lazy-port.js';
import { checkGivenPort, checkPortChoice, resolveOptions } from './options.js';
import { CacheStore, isUnavailable, type Found } from './store.js';
import type { Cache, CacheOptions, CacheStats, GetResult } from './types.js';

export function createCache(options: CacheOptions): Cache {
  checkPortChoice(options);
  const portOptions = options.token === undefined ? options.portOptions : { ...options.portOptions, token: options.token };
  const lazy = options.url === undefined ? undefined : lazyPort(options.url, portOptions);
  const port = lazy?.port ?? checkGivenPort(options.port);
  const settings = resolveOptions(options);
  const ns = settings.namespace;
  const local = settings.local === null ? null : new LocalCache(settings.local);
  const coherence = new Coherence(port, ns, local);
  const store = new CacheStore(port, settings, local, coherence);
  const flights = new GetOrSet(store);
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new Error(`the cache of namespace ${JSON.stringify(ns)} is closed`);
  };

  async function readOrFallback(key: string): Promise<Found | undefined> {
    try {
      return await store.read(key);
    } catch (error) {
      const fallback = isUnavailable(error) ? store.fallback(key) : undefined;
      if (fallback === undefined) throw error;
      store.stats.staleServed++;
      return fallback;
    }
  }

  async function get<T>(key: string, opts?: { metadata: true }): Promise<T | GetResult<T> | undefined> {
    assertOpen();
    validateKey(key);
    const found = await readOrFallback(key);
    if (found === undefined) return undefined;
    if (found.stale) store.stats.staleServed++;
    return opts?.metadata ? { value: found.value as T, stale: found.stale, source: found.source } : (found.value as T);
  }

  const cache: Cache = {
    namespace: ns,
    get: get as Cache['get'],
    async set(key, value, opts) {
      assertOpen();
      validateKey(key);
      await store.write(key, value, opts);
    },
    async delete(key) {
      assertOpen();
      validateKey(key);
      const deleted = await port.delete(ns, key);
      coherence.touched([key]);
      return deleted;
    },
    async has(key) {
      assertOpen();
      validateKey(key);
      return (await readOrFallback(key)) !== undefined;
    },
    async getMany<T>(keys: string[]) {
      assertOpen();
      validateKeys(keys);
      return Promise.all(keys.map(async (key) => (await readOrFallback(key))?.value as T | undefined));
    },
    async setMany(items) {
      assertOpen();
      if (!Array.isArray(items)) throw new TypeError('setMany needs an array of { key, value, ttl?, tags? }');
      items.forEach((item, i) => validateKey(item.key, `items[${i}].key`));
      await store.writeMany(items);
    },
    async deleteByPrefix(prefix) {
      assertOpen();
      validatePrefix(prefix);
      const deleted = await port.deleteByPrefix(ns, prefix);
      local?.deleteWhere((key) => key.startsWith(prefix));
      coherence.touchedSome();
      return deleted;
    },
    async invalidateTags(tags) {
      assertOpen();
      validateTags(tags, 'tags', false);
      const deleted = await port.invalidateTags(ns, tags);
      local?.deleteWhere((_, entry) => entry.tags.some((tag) => tags.includes(tag)));
      coherence.touchedSome();
      return deleted;
    },
    async clear() {
      assertOpen();
      const deleted = await port.clear(ns);
      coherence.touched('all');
      return deleted;
    },
    getOrSet(key, factory, opts) {
      assertOpen();
      return flights.run(key, factory, opts);
    },
    stats(): CacheStats {
      return { ...store.stats, feedReconnects: coherence.reconnects };
    },
    async close() {
      // Closes only what it opened: a port given to it stays open.
      if (closed) return;
      closed = true;
      coherence.close();
      local?.clear();
      await lazy?.close();
    },
  };
  return cache;
}
