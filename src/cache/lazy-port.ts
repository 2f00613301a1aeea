/**
 * createCache({ url }): the port is opened on the first call (createCache
 * stays synchronous). The URL and the open options are checked at once;
 * the cache closes this port on close() because it opened it.
 */
import type { CachePort } from '../core/port.js';
import { backendOf, checkOptions, openPort, type OpenPortOptions } from '../open-port.js';

export interface LazyPort {
  port: CachePort;
  /** Closes the port if it was opened. */
  close(): Promise<void>;
}

export function lazyPort(url: string, options: OpenPortOptions = {}): LazyPort {
  const backend = backendOf(url);
  checkOptions(backend, options);
  let opening: Promise<CachePort> | undefined;
  const open = (): Promise<CachePort> => {
    opening ??= openPort(url, options).catch((error: unknown) => {
      opening = undefined; // the next call tries again
      throw error;
    });
    return opening;
  };
  const port = new Proxy({} as CachePort, {
    get(_, name: string | symbol) {
      if (name === 'backend') return backend;
      if (name === 'then') return undefined;
      return async (...args: unknown[]) => {
        const real = await open();
        const member = (real as unknown as Record<string | symbol, unknown>)[name];
        if (typeof member !== 'function') throw new TypeError(`the ${backend} port has no ${String(name)}()`);
        return (member as (...a: unknown[]) => unknown).apply(real, args);
      };
    },
  });
  return {
    port,
    async close() {
      if (opening === undefined) return;
      const real = await opening.catch(() => undefined);
      await real?.close();
    },
  };
}
