/**
 * The Keyv store over one backend: @keyv/test-suite's suites (API, values,
 * namespaces) unchanged, then the store's own rules (store.ts).
 * A backend's test file is one line: runKeyvSuite(itsFactory).
 */
import { keyvApiTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { KeyvCacheport } from '../../src/keyv.js';
import { useBackend, type BackendFactory } from '../support/backends.js';
import { defineStoreTests } from './store.js';

export function runKeyvSuite(factory: BackendFactory): void {
  vitest.describe(`Keyv store: ${factory.name}`, () => {
    const backend = useBackend(factory);
    // The test suite makes a new store per Keyv instance, all over the one port and cacheport namespace.
    const store = (): KeyvCacheport => new KeyvCacheport({ port: backend.port, namespace: 'keyv-suite' });

    vitest.describe('@keyv/test-suite: api', () => keyvApiTests(vitest, Keyv, store));
    vitest.describe('@keyv/test-suite: values', () => keyvValueTests(vitest, Keyv, store));
    vitest.describe('@keyv/test-suite: namespaces', () => keyvNamespaceTest(vitest, Keyv, store));

    defineStoreTests(factory, () => backend.port);
  });
}
