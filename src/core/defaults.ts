import type { ChannelOptions } from './channels.js';
import type { NamespaceConfig } from './port.js';

/** Options every adapter takes, whatever its backend (channel options are optional: see core/channels.ts). */
export interface AdapterOptions extends ChannelOptions {
  /** Default ttl (ms) of namespaces without their own; null → no expiry. */
  defaultTtl: number | null;
  /** Inclusive limit on a value's size in bytes. */
  maxValueBytes: number;
  /** Upper bound on any backend call, in ms. */
  timeoutMs: number;
  /** Inclusive limit on keys/items per getMany/setMany/deleteMany call. */
  maxBatch: number;
}

export const DEFAULT_ADAPTER_OPTIONS: AdapterOptions = {
  defaultTtl: 60 * 60 * 1000,
  maxValueBytes: 1024 * 1024,
  timeoutMs: 2000,
  maxBatch: 1000,
};

export function defaultNamespaceConfig(defaultTtl: number | null): NamespaceConfig {
  return { defaultTtl, maxEntries: null, maxBytes: null, eviction: 'lru', durable: false };
}

/** Fills omitted fields with the defaults: a configure() call states the full config. */
export function completeNamespaceConfig(config: Partial<NamespaceConfig>, defaultTtl: number | null): NamespaceConfig {
  const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
  return { ...defaultNamespaceConfig(defaultTtl), ...defined };
}
