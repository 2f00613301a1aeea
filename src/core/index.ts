export * from './port.js';
export * from './errors.js';
export * from './duration.js';
export * from './validation.js';
export * from './defaults.js';
export { prefixUpperBound } from './keys.js';
export { newEtag } from './etag.js';
export { withTimeout } from './timeout.js';
export { NamespaceConfigCache } from './namespace-config-cache.js';
