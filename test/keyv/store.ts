/**
 * The Keyv store's own rules, beyond @keyv/test-suite: where Keyv namespaces
 * live in the cacheport namespace, what clear() removes, ttl reaching the
 * backend, values stored and read back exactly, batching, disconnect,
 * validation, and an unreachable backend.
 */
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, ValidationError } from '../../src/core/errors.js';
import type { CachePort } from '../../src/core/port.js';
import { KeyvCacheport, type KeyvCacheportOptions } from '../../src/keyv.js';
import type { AdapterName, BackendFactory } from '../support/backends.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { EXPIRY_WAIT, LONG_TTL, SHORT_TTL, caught, sleep, text, uniqueNamespace } from '../contract/context.js';

export function defineStoreTests(factory: BackendFactory<AdapterName>, port: () => CachePort): void {
  /** A store over a fresh cacheport namespace (returned as `ns`). */
  function freshStore(options: Partial<KeyvCacheportOptions> = {}): { store: KeyvCacheport; ns: string } {
    const ns = uniqueNamespace();
    return { store: new KeyvCacheport({ port: port(), namespace: ns, ...options }), ns };
  }

  describe('the store', () => {
    it('is a KeyvStoreAdapter whose opts carry a dialect Keyv iterates (so keyv.iterator() exists) and the backend', () => {
      const { store, ns } = freshStore();
      // Keyv 5.6 types a store's setMany as Promise<void> yet returns what it resolves to from keyv.setMany: the store gives booleans.
      const adapter: Omit<KeyvStoreAdapter, 'setMany'> = store;
      expect(adapter.opts).toEqual({
        dialect: factory.name === 'postgres' ? 'postgres' : 'redis',
        backend: factory.name,
        namespace: ns,
        batchSize: 1000,
        closeOnDisconnect: true,
      });
      expect(typeof new Keyv({ store }).iterator).toBe('function');
    });

    it("stores a Keyv namespace's keys as `<namespace>:key` in its cacheport namespace, apart from other Keyv namespaces", async () => {
      const { store, ns } = freshStore();
      const a = new Keyv({ store, namespace: 'a' });
      const b = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: ns }), namespace: 'b' });
      const bare = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: ns }), namespace: undefined });
      await a.set('k', 'from a');
      await b.set('k', 'from b');
      await bare.set('k', 'bare');
      expect([await a.get('k'), await b.get('k'), await bare.get('k')]).toEqual(['from a', 'from b', 'bare']);
      const stored = await port().getMany(ns, ['a:k', 'b:k', 'k']);
      expect(stored.map((entry) => entry !== undefined)).toEqual([true, true, true]);
      expect(await a.delete('k')).toBe(true);
      expect([await a.get('k'), await b.get('k'), await bare.get('k')]).toEqual([undefined, 'from b', 'bare']);
    });

    it('clear() deletes only its Keyv namespace, not other Keyv namespaces, other keys or other cacheport namespaces', async () => {
      const { store, ns } = freshStore();
      const other = uniqueNamespace();
      const a = new Keyv({ store, namespace: 'a' });
      const b = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: ns }), namespace: 'b' });
      const elsewhere = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: other }), namespace: 'a' });
      await a.set('one', 1);
      await a.set('two', 2);
      await b.set('one', 'b1');
      await elsewhere.set('one', 'e1');
      await port().set(ns, 'ab:plain', 'not keyv', { ttl: LONG_TTL });
      await a.clear();
      expect([await a.get('one'), await a.get('two')]).toEqual([undefined, undefined]);
      expect(await b.get('one')).toBe('b1');
      expect(await elsewhere.get('one')).toBe('e1');
      expect(text(await port().get(ns, 'ab:plain'))).toBe('not keyv');
    });

    it('clear() without a Keyv namespace empties the whole cacheport namespace and nothing else', async () => {
      const { store, ns } = freshStore();
      const other = uniqueNamespace();
      const bare = new Keyv({ store, namespace: undefined });
      const named = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: ns }), namespace: 'named' });
      const elsewhere = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: other }) });
      await bare.set('k', 'v');
      await named.set('k', 'v');
      await elsewhere.set('k', 'kept');
      await bare.clear();
      expect(await port().getMany(ns, ['k', 'named:k'])).toEqual([undefined, undefined]);
      expect(await elsewhere.get('k')).toBe('kept');
    });

    it('a Keyv ttl becomes the entry’s backend ttl; no ttl means no expiry even where the namespace has a default', async () => {
      const { store, ns } = freshStore();
      await port().configure(ns, { defaultTtl: 60_000 });
      const keyv = new Keyv({ store });
      await keyv.set('timed', 'v', 30_000);
      await keyv.set('forever', 'v');
      await new Keyv({ store, ttl: 20_000 }).set('keyv-default', 'v');
      const timed = await port().ttl(ns, 'keyv:timed');
      expect(timed).toBeGreaterThan(0);
      expect(timed).toBeLessThanOrEqual(30_000);
      const keyvDefault = await port().ttl(ns, 'keyv:keyv-default');
      expect(keyvDefault).toBeGreaterThan(0);
      expect(keyvDefault).toBeLessThanOrEqual(20_000);
      expect(await port().ttl(ns, 'keyv:forever')).toBeNull();
    });

    it('an entry past its ttl is gone from the backend, not only hidden by Keyv', async () => {
      const { store, ns } = freshStore();
      const keyv = new Keyv({ store });
      await keyv.set('short', 'v', SHORT_TTL);
      await keyv.set('long', 'v', LONG_TTL);
      await sleep(EXPIRY_WAIT);
      expect(await port().get(ns, 'keyv:short')).toBeUndefined();
      expect(await store.has('keyv:short')).toBe(false);
      expect(await keyv.get('long')).toBe('v');
    });

    it('ttl edge cases: 0 is no expiry, a fraction rounds up, a negative ttl deletes, over 365 days or NaN is refused', async () => {
      const { store, ns } = freshStore();
      await store.set('zero', 'v', 0);
      expect(await port().ttl(ns, 'zero')).toBeNull();
      await store.set('fraction', 'v', 1500.2);
      expect(await port().ttl(ns, 'fraction')).toBeLessThanOrEqual(1501);
      await store.set('negative', 'v');
      expect(await store.set('negative', 'new', -1)).toBe(true);
      expect(await port().has(ns, 'negative')).toBe(false);
      await store.set('kept', 'old');
      for (const ttl of [366 * 24 * 60 * 60 * 1000, Number.NaN]) {
        expect(await caught(() => store.set('kept', 'new', ttl))).toBeInstanceOf(ValidationError);
      }
      expect(await store.get('kept')).toBe('old');
    });

    it('Keyv reports a refused ttl as a failed set with an error event, writing nothing', async () => {
      const { store } = freshStore();
      const keyv = new Keyv({ store });
      const errors: unknown[] = [];
      keyv.on('error', (error: unknown) => errors.push(error));
      expect(await keyv.set('k', 'v', 400 * 24 * 60 * 60 * 1000)).toBe(false);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(ValidationError);
      expect(await keyv.has('k')).toBe(false);
    });
  });

  describe('values', () => {
    const texts = [
      '',
      'plain',
      'ünïcödé ✓',
      '日本語のテキスト',
      '👩‍👩‍👧 family',
      'e\u0301 combining',
      'nul\u0000inside',
      '"quoted" \'single\' \\ back',
      '\r\n\t',
    ];

    it('Keyv values round-trip, and the store holds exactly the string Keyv serialized', async () => {
      const { store, ns } = freshStore();
      const keyv = new Keyv({ store });
      const values: unknown[] = [...texts, { nested: { list: [1, 'two', null, true] }, emoji: '🙂' }, 0, -1.5, false, null];
      for (const [i, value] of values.entries()) {
        await keyv.set(`v${i}`, value);
        expect(await keyv.get(`v${i}`)).toEqual(value);
        const serialized = await keyv.serializeData({ value, expires: undefined });
        expect(text(await port().get(ns, `keyv:v${i}`))).toBe(serialized);
      }
    });

    it('strings (including lone surrogates) and every byte value round-trip exactly through the store', async () => {
      const { store } = freshStore();
      const strings = [...texts, '\ud800 lone high', 'lone low \udc00', '\udc00\ud800'];
      for (const [i, value] of strings.entries()) {
        await store.set(`s${i}`, value);
        expect(await store.get(`s${i}`)).toBe(value);
      }
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await store.set('bytes', bytes);
      const read = await store.get('bytes');
      expect(Buffer.isBuffer(read)).toBe(true);
      expect((read as Buffer).equals(bytes)).toBe(true);
      await store.set('u8', new Uint8Array([0, 255, 128]));
      expect(await store.get('u8')).toEqual(Buffer.from([0, 255, 128]));
    });

    it('with Keyv serialization turned off, the raw { value, expires } object comes back as JSON', async () => {
      const { store } = freshStore();
      const keyv = new Keyv({ store, serialize: undefined, deserialize: undefined });
      await keyv.set('obj', { name: 'ä', list: [1, 2] }, LONG_TTL);
      expect(await keyv.get('obj')).toEqual({ name: 'ä', list: [1, 2] });
      const raw = await keyv.getRaw('obj');
      expect(typeof raw?.expires).toBe('number');
    });

    it('a value JSON cannot hold is refused and nothing is written', async () => {
      const { store } = freshStore();
      const cyclic: { self?: unknown } = {};
      cyclic.self = cyclic;
      for (const value of [10n, cyclic, undefined, () => 1]) {
        expect(await caught(() => store.set('bad', value))).toBeInstanceOf(ValidationError);
      }
      expect(await store.has('bad')).toBe(false);
    });

    it('entries other clients wrote: text and JSON types read as strings, other types as bytes', async () => {
      const { store, ns } = freshStore();
      await port().set(ns, 'json', '{"value":"via http"}', { contentType: 'application/json' });
      await port().set(ns, 'png', Buffer.from([137, 80, 78, 71]), { contentType: 'image/png' });
      expect(await store.get('json')).toBe('{"value":"via http"}');
      expect(await store.get('png')).toEqual(Buffer.from([137, 80, 78, 71]));
      expect(await new Keyv({ store, namespace: undefined }).get('json')).toBe('via http');
    });
  });

  describe('batches', () => {
    it('setMany, getMany, hasMany and deleteMany span several port batches and keep order', async () => {
      const { store, ns } = freshStore({ batchSize: 2 });
      const keyv = new Keyv({ store });
      const entries = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, ttl: LONG_TTL }));
      expect(await keyv.setMany(entries)).toEqual([true, true, true, true, true]);
      expect(await keyv.getMany(['k4', 'missing', 'k0', 'k2', 'k1', 'k3'])).toEqual(['v4', undefined, 'v0', 'v2', 'v1', 'v3']);
      expect(await keyv.hasMany(['k0', 'nope', 'k3', 'k4'])).toEqual([true, false, true, true]);
      expect(await keyv.deleteMany(['k0', 'k1', 'k2', 'nope'])).toBe(true);
      expect(await keyv.deleteMany(['k0', 'nope'])).toBe(false);
      expect((await port().getMany(ns, ['keyv:k2', 'keyv:k3'])).map((entry) => entry !== undefined)).toEqual([false, true]);
    });

    it('setMany: the last entry for a repeated key wins and a negative ttl deletes', async () => {
      const { store } = freshStore({ batchSize: 2 });
      await store.set('gone', 'old');
      const written = await store.setMany([
        { key: 'dup', value: 'first' },
        { key: 'gone', value: 'x', ttl: -5 },
        { key: 'dup', value: 'second' },
        { key: 'other', value: 'o', ttl: LONG_TTL },
      ]);
      expect(written).toEqual([true, true, true, true]);
      expect(await store.getMany(['dup', 'gone', 'other'])).toEqual(['second', undefined, 'o']);
    });

    it('a key list or entry list of the wrong shape is refused, not read as empty', async () => {
      const { store } = freshStore();
      const calls: Array<() => Promise<unknown>> = [
        () => store.getMany('k' as unknown as string[]),
        () => store.hasMany({} as unknown as string[]),
        () => store.deleteMany(null as unknown as string[]),
        () => store.setMany('k' as unknown as []),
        () => store.setMany([null as unknown as { key: string; value: string }]),
      ];
      for (const call of calls) expect(await caught(call)).toBeInstanceOf(ValidationError);
    });

    it('setMany with one bad value or key writes none of the entries, across batches', async () => {
      const { store } = freshStore({ batchSize: 1 });
      const badValue = [
        { key: 'ok', value: 'v' },
        { key: 'bad', value: 1n },
      ];
      const badKey = [
        { key: 'ok', value: 'v' },
        { key: '', value: 'v' },
      ];
      expect(await caught(() => store.setMany(badValue))).toBeInstanceOf(ValidationError);
      expect(await caught(() => store.setMany(badKey))).toBeInstanceOf(ValidationError);
      expect(await store.hasMany(['ok', 'bad'])).toEqual([false, false]);
    });

    it('deleteMany with one bad key deletes nothing, across batches', async () => {
      const { store } = freshStore({ batchSize: 1 });
      await store.set('a', 'v');
      expect(await caught(() => store.deleteMany(['a', 'x\u0000y']))).toBeInstanceOf(ValidationError);
      expect(await store.get('a')).toBe('v');
    });
  });

  describe('options and lifecycle', () => {
    it('refuses a bad cacheport namespace, batch size or port before using the port', () => {
      const bad: unknown[] = [
        { port: port(), namespace: 'Not Valid' },
        { port: port(), batchSize: 0 },
        { port: port(), batchSize: 10_001 },
        { port: port(), batchSize: 1.5 },
        { port: port(), closeOnDisconnect: 'yes' },
        { port: {} },
        null,
      ];
      for (const options of bad) {
        expect(() => new KeyvCacheport(options as KeyvCacheportOptions)).toThrow(ValidationError);
      }
    });

    it('disconnect() closes the port by default and leaves it open with closeOnDisconnect: false', async () => {
      const own = await factory.create();
      try {
        await new Keyv({ store: new KeyvCacheport({ port: own.port, closeOnDisconnect: false }) }).disconnect();
        expect(await own.port.set('keyv', 'still', 'open')).toMatchObject({ written: true });
        await new Keyv({ store: new KeyvCacheport({ port: own.port }) }).disconnect();
        expect(await caught(() => own.port.get('keyv', 'still'))).toBeInstanceOf(Error);
      } finally {
        await own.cleanup();
      }
    });

    it('an unreachable backend: a Keyv get is a miss, a set fails with an error event, getMany/has and throwOnErrors surface the typed error', async () => {
      const unreachable = await createUnreachablePort(factory.name);
      try {
        const keyv = new Keyv({ store: new KeyvCacheport({ port: unreachable }) });
        const errors: unknown[] = [];
        keyv.on('error', (error: unknown) => errors.push(error));
        expect(await keyv.get('k')).toBeUndefined();
        expect(errors).toEqual([]);
        expect(await keyv.set('k', 'v')).toBe(false);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toBeInstanceOf(BackendUnavailableError);
        expect(await caught(() => keyv.getMany(['k', 'j']))).toBeInstanceOf(BackendUnavailableError);
        expect(await caught(() => keyv.has('k'))).toBeInstanceOf(BackendUnavailableError);
        const strict = new Keyv({ store: new KeyvCacheport({ port: unreachable }), throwOnErrors: true });
        strict.on('error', () => {});
        expect(await caught(() => strict.get('k'))).toBeInstanceOf(BackendUnavailableError);
      } finally {
        await unreachable.close();
      }
    });
  });
}
