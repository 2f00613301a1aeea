/** `cacheport/http`: the HTTP adapter, a CachePort on a cacheport server (openPort('http://…', { token }) opens it too). */
export { createHttpPort, type HttpPort, type HttpPortOptions } from './adapters/http/index.js';
