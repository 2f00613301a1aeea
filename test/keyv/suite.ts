/**
 * The Keyv store over one backend: @keyv/test-suite's suites (API, values,
 * namespaces, iterator) unchanged, then the store's own rules (iteration.ts,
 * store.ts).
 * A backend's test file is one line: runKeyvSuite(itsFactory).
 */
import { keyvApiTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { KeyvCacheport } from '../../src/keyv.js';
import { useBackend, type AdapterName, type BackendFactory } from '../support/backends.js';
import { defineIterationTests } from './iteration.js';
import { defineStoreTests } from './store.js';

/**
 * Store calls still running. Some @keyv/test-suite tests start a call without
 * awaiting it (".delete(key) returns a Promise"); on a pooled backend such a
 * delete can land in the next test, after its set. Settling them after each
 * test keeps every test's calls inside the test.
 */
class PendingCalls {
  private readonly pending = new Set<Promise<unknown>>();

  /** The store, with every promise its methods return recorded until it settles. */
  track(store: KeyvCacheport): KeyvCacheport {
    const pending = this.pending;
    return new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          const result: unknown = value.apply(target, args);
          if (result instanceof Promise) {
            pending.add(result);
            const forget = () => pending.delete(result);
            result.then(forget, forget);
          }
          return result;
        };
      },
    });
  }

  /** Waits a macrotask (Keyv serializes before calling the store), then for every recorded call, until none is left. */
  async settle(): Promise<void> {
    do {
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.allSettled([...this.pending]);
    } while (this.pending.size > 0);
  }
}

export function runKeyvSuite(factory: BackendFactory<AdapterName>, label: string = factory.name): void {
  vitest.describe(`Keyv store: ${label}`, () => {
    const backend = useBackend(factory);
    const calls = new PendingCalls();
    // The test suite makes a new store per Keyv instance, all over the one port and cacheport namespace.
    const store = (): KeyvCacheport => calls.track(new KeyvCacheport({ port: backend.port, namespace: 'keyv-suite' }));
    vitest.afterEach(() => calls.settle());

    vitest.describe('@keyv/test-suite: api', () => keyvApiTests(vitest, Keyv, store));
    vitest.describe('@keyv/test-suite: values', () => keyvValueTests(vitest, Keyv, store));
    vitest.describe('@keyv/test-suite: namespaces', () => keyvNamespaceTest(vitest, Keyv, store));

    defineIterationTests(() => backend.port, store);
    defineStoreTests(factory, () => backend.port);
  });
}
