export { createCache } from './cache.js';
export { GetOrSetTimeoutError } from './errors.js';
export type {
  Cache,
  CacheOptions,
  CacheStats,
  Duration,
  Factory,
  FactoryContext,
  GetOrSetOptions,
  GetResult,
  LocalCacheOption,
  SerializerOption,
  TimeoutsOption,
  WriteOptions,
} from './types.js';
