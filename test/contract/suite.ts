/**
 * THE contract suite: every CachePort adapter must pass it unchanged. It uses
 * only the port API, one port per suite (created by the factory, cleaned up
 * after) and a fresh namespace per test, so tests never see each other.
 * Rules come from docs/spec/cache-port.md, "Entries" and
 * "Namespace configuration and stats".
 */
import { describe } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { useBackend, type AdapterName, type BackendFactory } from '../support/backends.js';
import { uniqueNamespace, type ContractContext } from './context.js';
import { defineEntryTests } from './entries.js';
import { defineConditionTests } from './conditions.js';
import { defineExpiryTests } from './expiry.js';
import { defineCounterTests } from './counters.js';
import { defineBulkDeleteTests } from './bulk-deletes.js';
import { defineKeyValueTests } from './keys-values.js';
import { defineIsolationTests } from './isolation.js';
import { defineValidationTests } from './validation.js';
import { defineNamespaceTests } from './namespaces.js';
import { defineConcurrencyTests } from './concurrency.js';
import { defineModelSequenceTests } from './model-sequences.js';
import { defineKeyInspectorTests } from './key-inspector.js';
import { definePubSubTests } from './pubsub.js';

export function runContractSuite(factory: BackendFactory<AdapterName>, options: { label?: string } = {}): void {
  describe(`CachePort contract: ${options.label ?? factory.name}`, () => {
    const backend = useBackend(factory);

    const ctx: ContractContext = {
      factory,
      port: (): CachePort => backend.port,
      ns: uniqueNamespace,
    };

    defineEntryTests(ctx);
    defineConditionTests(ctx);
    defineExpiryTests(ctx);
    defineCounterTests(ctx);
    defineBulkDeleteTests(ctx);
    defineKeyValueTests(ctx);
    defineIsolationTests(ctx);
    defineValidationTests(ctx);
    defineNamespaceTests(ctx);
    defineConcurrencyTests(ctx);
    defineModelSequenceTests(ctx);
    defineKeyInspectorTests(ctx);
    definePubSubTests(ctx);
  });
}
