/**
 * A rate limit or lock call with the backend unreachable (a closed TCP port,
 * 1 s timeout) fails with BackendUnavailableError, within the timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../src/core/errors.js';
import type { CachePort } from '../../src/core/port.js';
import { BACKENDS, redisFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';

// The HTTP adapter too, in front of a server over Redis (the server's answers are the port's, whatever the backend).
describe.each([...BACKENDS, httpFactory(redisFactory)])('coordination with $name unreachable', (factory) => {
  let port: CachePort;
  beforeAll(async () => {
    port = await createUnreachablePort(factory.name);
  });
  afterAll(async () => {
    await port?.close().catch(() => {});
  });

  it('rate limit throws BackendUnavailableError within the timeout', async () => {
    const started = Date.now();
    await expect(port.rateLimit('k', { limit: 5, windowMs: 1000 })).rejects.toBeInstanceOf(BackendUnavailableError);
    // Timeout is 1 s; generous slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('lock calls throw BackendUnavailableError (locks fail closed)', async () => {
    await expect(port.acquire('name', { ttl: 1000 })).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(port.inspectLock('name')).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
