/** `import … from 'cacheport'`: openPort, the CachePort interface, its errors and helpers. */
export { openPort, backendOf, type OpenPortOptions } from './open-port.js';
export * from './core/index.js';
// The cache layer's public surface (createCache, its error and types), declared once in cache/index.ts.
export * from './cache/index.js';
