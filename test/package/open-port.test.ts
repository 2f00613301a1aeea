/** openPort(url, options): the adapter comes from the URL; a wrong option or scheme is a ValidationError and opens nothing. */
import { describe, expect, it } from 'vitest';
import { LimitExceededError, openPort, ValidationError } from '../../src/index.js';
import { deleteRedisKeys, redisFactory } from '../support/backends.js';
import { HTTP_TEST_TOKEN, startHttpBackend } from '../support/http-backend.js';
import { PG_URL, REDIS_URL } from '../support/services.js';

describe('openPort', () => {
  it.each([
    ['redis://127.0.0.1:6379', { schema: 'x' }, 'schema: applies to postgres URLs only, not redis'],
    ['postgres://root@127.0.0.1:5432/test', { prefix: 'x' }, 'prefix: applies to redis URLs only, not postgres'],
    ['postgres://root@127.0.0.1:5432/test', { token: 't' }, 'token: applies to http URLs only, not postgres'],
    ['postgres://root@127.0.0.1:5432/test', { schema: 'Bad"Name' }, 'schema: must be a lowercase SQL identifier'],
    ['postgres://root@127.0.0.1:5432/test', { poolMax: 0 }, 'poolMax: must be a whole number'],
    ['redis://127.0.0.1:6379', { timeoutMs: 1.5 }, 'timeoutMs: must be a whole number'],
    ['redis://127.0.0.1:6379', { maxMessageBytes: 0 }, 'maxMessageBytes: must be a whole number'],
    ['postgres://root@127.0.0.1:5432/test', { channelRetentionMs: -1 }, 'channelRetentionMs: must be a whole number'],
    ['https://cache.example.com', { channelRetentionMs: 1000 }, 'channelRetentionMs: applies to postgres, redis URLs only, not http'],
    ['mysql://127.0.0.1/x', {}, 'url: scheme mysql: is not supported'],
    ['not a url', {}, 'url: is not a valid URL'],
    ['redis://127.0.0.1:6379', { token: 't' }, 'token: applies to http URLs only, not redis'],
    ['https://cache.example.com', { schema: 'x' }, 'schema: applies to postgres URLs only, not http'],
    ['http://127.0.0.1:8080', { prefix: 'x' }, 'prefix: applies to redis URLs only, not http'],
    ['http://127.0.0.1:8080', { token: 'has space' }, 'token: must be 1-4096 printable ASCII characters'],
  ] as const)('%s with %j → ValidationError', async (url, options, message) => {
    const attempt = openPort(url, options);
    await expect(attempt).rejects.toThrow(ValidationError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('an unknown option is named', async () => {
    await expect(openPort('redis://127.0.0.1:6379', { colour: 'blue' } as never)).rejects.toThrow('colour: is not an option of openPort');
  });

  it('redis:// opens the Redis adapter with its prefix', async () => {
    const prefix = `cp_openport_${process.pid}`;
    const port = await openPort(REDIS_URL, { prefix, timeoutMs: 2000, maxMessageBytes: 10 });
    try {
      expect(port.backend).toBe('redis');
      await port.publish('chan', '12345678');
      await expect(port.publish('chan', '123456789')).rejects.toThrow(LimitExceededError);
      await port.set('ns', 'k', 'v');
      expect(new TextDecoder().decode((await port.get('ns', 'k'))?.value)).toBe('v');
    } finally {
      await port.close();
      await deleteRedisKeys(prefix);
    }
  });

  it('postgres:// creates and migrates the schema, then opens the Postgres adapter', async () => {
    const schema = `cp_openport_${process.pid}`;
    const port = await openPort(PG_URL, { schema, poolMax: 2 });
    try {
      expect(port.backend).toBe('postgres');
      expect(await port.increment('ns', 'n', 2)).toBe(2n);
    } finally {
      await port.close();
      const { default: postgres } = await import('postgres');
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
    }
  });

  it('http:// opens the HTTP adapter on a cacheport server, with its token and pool', async () => {
    const server = await startHttpBackend(redisFactory);
    const port = await openPort(server.server.url, { token: HTTP_TEST_TOKEN, poolMax: 3, timeoutMs: 3000 });
    try {
      expect(port.backend).toBe('http');
      expect(port.usage()).toEqual({ inFlight: 0, poolSize: 3 });
      await port.set('ns', 'k', 'over http');
      expect(new TextDecoder().decode((await server.inner.port.get('ns', 'k'))?.value)).toBe('over http');
      expect(await port.increment('ns', 'n', 2)).toBe(2n);
    } finally {
      await port.close();
      await server.cleanup();
    }
  });
});
