/** `cacheport/keyv`: a Keyv storage adapter over any CachePort (keyv itself is an optional peer dependency). */
export {
  KeyvCacheport,
  DEFAULT_KEYV_BATCH_SIZE,
  DEFAULT_KEYV_NAMESPACE,
  type KeyvCacheportOptions,
  type KeyvCacheportOpts,
  type KeyvPort,
  type KeyvStoreEntry,
} from './keyv/store.js';
