/** `import … from 'cacheport'`: openPort, the CachePort interface, its errors and helpers. */
export { openPort, backendOf, type OpenPortOptions } from './open-port.js';
export * from './core/index.js';
export { createCache, GetOrSetTimeoutError } from './cache/index.js';
export type {
  Cache,
  CacheOptions,
  CacheStats,
  Factory,
  FactoryContext,
  GetOrSetOptions,
  GetResult,
  LocalCacheOption,
  SerializerOption,
  TimeoutsOption,
  WriteOptions,
} from './cache/index.js';
