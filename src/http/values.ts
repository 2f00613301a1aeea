/** JSON representations shared by counters, batch and namespaces. */
import { isUtf8 } from 'node:buffer';
import { formatDuration } from '../core/duration.js';
import type { NamespaceConfig, NamespaceInfo } from '../core/port.js';

const TWO_POW_53 = 2n ** 53n;

/** JSON number within ±2^53, else a decimal string (JSON numbers lose precision beyond). */
export function integerToJson(value: bigint): number | string {
  return value >= -TWO_POW_53 && value <= TWO_POW_53 ? Number(value) : value.toString();
}

/** UTF-8 text when the bytes are valid UTF-8, else base64 with `encoding: 'base64'`. */
export function bytesToJson(value: Buffer): { value: string; encoding?: 'base64' } {
  return isUtf8(value) ? { value: value.toString('utf8') } : { value: value.toString('base64'), encoding: 'base64' };
}

export interface NamespaceConfigJson {
  defaultTtl: string | null;
  maxEntries: number | null;
  maxBytes: number | null;
  eviction: 'lru' | 'none';
  durable: boolean;
  localCache: { maxEntries: number; ttl: string } | null;
}

export function configToJson(config: NamespaceConfig): NamespaceConfigJson {
  return {
    defaultTtl: config.defaultTtl === null ? null : formatDuration(config.defaultTtl),
    maxEntries: config.maxEntries,
    maxBytes: config.maxBytes,
    eviction: config.eviction,
    durable: config.durable,
    localCache:
      config.localCache === null ? null : { maxEntries: config.localCache.maxEntries, ttl: formatDuration(config.localCache.ttl) },
  };
}

export function namespaceToJson(info: NamespaceInfo) {
  return { name: info.name, configured: info.configured, config: configToJson(info.config), stats: info.stats };
}
