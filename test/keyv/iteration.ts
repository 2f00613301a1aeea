/**
 * Iteration (needs the port's listKeys): @keyv/test-suite's iterator suite,
 * then pages of listKeys read one getMany at a time.
 */
import { keyvIteratorTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { KeyvCacheport } from '../../src/keyv.js';
import { EXPIRY_WAIT, SHORT_TTL, sleep, uniqueNamespace } from '../contract/context.js';

const { describe, expect, it } = vitest;

export function defineIterationTests(port: () => CachePort, store: () => KeyvCacheport): void {
  describe('@keyv/test-suite: iterator', () => keyvIteratorTests(vitest, Keyv, store));

  /** A store over a fresh cacheport namespace. */
  function freshStore(batchSize?: number): KeyvCacheport {
    return new KeyvCacheport({ port: port(), namespace: uniqueNamespace(), batchSize });
  }

  describe('iteration', () => {
    it('iterates one Keyv namespace across several listKeys pages', async () => {
      const store = freshStore(2);
      const mine = new Keyv({ store, namespace: 'mine' });
      const theirs = new Keyv({ store: new KeyvCacheport({ port: port(), namespace: store.opts.namespace }), namespace: 'theirs' });
      const expected = new Map(Array.from({ length: 7 }, (_, i) => [`key:${i}`, { i, text: `värde ${i}` }]));
      for (const [key, value] of expected) await mine.set(key, value);
      await theirs.set('key:0', 'not mine');
      const seen = new Map<string, unknown>();
      const iterate = mine.iterator as NonNullable<typeof mine.iterator>;
      for await (const [key, value] of iterate(undefined)) seen.set(key as string, value);
      expect(seen).toEqual(expected);
    });

    it('keeps paging past pages that met only expired entries', async () => {
      const store = freshStore(2);
      // batchSize 2: a page examines at most 4 stored keys, so 6 expired ones give at least one empty page first.
      for (let i = 0; i < 6; i += 1) await store.set(`n:a${i}`, 'expired', SHORT_TTL);
      await store.set('n:z1', 'live 1');
      await store.set('n:z2', 'live 2');
      await sleep(EXPIRY_WAIT);
      const pairs: unknown[] = [];
      for await (const pair of store.iterator('n')) pairs.push(pair);
      expect(pairs).toEqual([
        ['n:z1', 'live 1'],
        ['n:z2', 'live 2'],
      ]);
    });

    it('store.iterator() yields stored keys and values; an empty namespace yields nothing', async () => {
      const store = freshStore();
      await store.set('n:a', 'A');
      await store.set('n:b', Buffer.from('B'));
      await store.set('m:c', 'C');
      const pairs: unknown[] = [];
      for await (const pair of store.iterator('n')) pairs.push(pair);
      expect(pairs).toEqual([
        ['n:a', 'A'],
        ['n:b', Buffer.from('B')],
      ]);
      const none: unknown[] = [];
      for await (const pair of store.iterator('empty')) none.push(pair);
      expect(none).toEqual([]);
    });
  });
}
