/**
 * A port whose backend is unreachable (a closed local port), to prove that
 * validation happens before any backend call: such a port can only answer an
 * invalid call with ValidationError if it never tried the backend.
 */
import { freePort } from '../../src/free-port.js';
import type { CachePort } from '../../src/core/port.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { AdapterName } from './backends.js';

/** A TCP port that was free a moment ago and now has no listener. */
export const closedTcpPort: () => Promise<number> = freePort;

/** Imports the adapter lazily so a suite for one backend loads without the other. */
export async function createUnreachablePort(backend: AdapterName): Promise<CachePort> {
  const tcpPort = await closedTcpPort();
  const options = { ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 1000 };
  if (backend === 'postgres') {
    const { createPostgresPort } = await import('../../src/adapters/postgres/index.js');
    return createPostgresPort({ ...options, url: `postgres://root@127.0.0.1:${tcpPort}/test`, schema: 'cp_unreachable', poolMax: 1 });
  }
  if (backend === 'http') {
    const { createHttpPort } = await import('../../src/adapters/http/index.js');
    return createHttpPort({ ...options, url: `http://127.0.0.1:${tcpPort}`, token: 'unused', poolMax: 2 });
  }
  const { createRedisPort } = await import('../../src/adapters/redis/index.js');
  return createRedisPort({ ...options, url: `redis://127.0.0.1:${tcpPort}`, prefix: 'cp_unreachable' });
}
