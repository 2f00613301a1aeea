/** `import … from 'cacheport'`: openPort, the CachePort interface, its errors and helpers. */
export { openPort, backendOf, type OpenPortOptions } from './open-port.js';
export * from './core/index.js';
