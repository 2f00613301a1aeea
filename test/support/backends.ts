/**
 * Adapter factories for tests: each call makes an isolated port (its own
 * Postgres schema or Redis key prefix) and a cleanup that removes every trace.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { DEFAULT_ADAPTER_OPTIONS, type AdapterOptions } from '../../src/core/defaults.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { PG_URL, REDIS_URL, uniqueName } from './services.js';
import { pgbouncerFactory } from './pgbouncer.js';
import { dropSchema, portFamily } from './port-family.js';

export type BackendName = 'postgres' | 'redis';

export interface TestBackend {
  port: CachePort;
  /** Postgres schema or Redis key prefix this port uses. */
  scope: string;
  /** Another port on the same schema / prefix (like a second process); closed by cleanup. */
  sibling(options?: Partial<AdapterOptions>): CachePort;
  cleanup(): Promise<void>;
}

/** `http`: a port of the HTTP adapter, talking to a server over one of the other two (test/support/http-backend.ts). */
export type AdapterName = BackendName | 'http';

export interface BackendFactory<N extends AdapterName = BackendName> {
  name: N;
  create(options?: Partial<AdapterOptions>): Promise<TestBackend>;
}

export const postgresFactory: BackendFactory = {
  name: 'postgres',
  async create(options = {}) {
    const schema = uniqueName('cptest').toLowerCase();
    await runMigrations(PG_URL, schema);
    const make = (given: Partial<AdapterOptions>): CachePort =>
      createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, ...given, url: PG_URL, schema, poolMax: 4 });
    return portFamily(make, options, schema, () => dropSchema(schema));
  },
};

export const redisFactory: BackendFactory = {
  name: 'redis',
  async create(options = {}) {
    const prefix = uniqueName('cptest');
    const make = (given: Partial<AdapterOptions>): CachePort =>
      createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, ...given, url: REDIS_URL, prefix });
    return portFamily(make, options, prefix, () => deleteRedisKeys(prefix));
  },
};

/** Test-only cleanup by SCAN (the adapter itself never scans the keyspace). */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    for (const pattern of [`${prefix}:*`, `{${prefix}}*`, `${prefix}{*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * The backends the per-backend test files run against: TEST_BACKENDS, a comma-separated
 * list of postgres, redis and pgbouncer (the Postgres adapter through PgBouncer in
 * transaction pooling mode, test/support/pgbouncer.ts); default postgres,redis.
 * E.g. TEST_BACKENDS=pgbouncer runs every HTTP test once through PgBouncer.
 */
function selectedBackends(): BackendFactory[] {
  const known: Record<string, BackendFactory> = { postgres: postgresFactory, redis: redisFactory, pgbouncer: pgbouncerFactory };
  const names = (process.env.TEST_BACKENDS ?? 'postgres,redis').split(',').map((name) => name.trim());
  return names.map((name) => {
    const factory = known[name];
    if (factory === undefined) throw new Error(`TEST_BACKENDS: unknown backend ${JSON.stringify(name)} (postgres, redis, pgbouncer)`);
    return factory;
  });
}

export const BACKENDS: BackendFactory[] = selectedBackends();

/**
 * Registers beforeAll/afterAll in the calling describe block: one backend for
 * the block, cleaned up afterwards. The returned object reads through to it,
 * so `backend.port` inside a test is the live port.
 */
export function useBackend(factory: BackendFactory<AdapterName>, options?: Partial<AdapterOptions>): TestBackend {
  let created: TestBackend | undefined;
  beforeAll(async () => {
    created = await factory.create(options);
  });
  afterAll(async () => {
    await created?.cleanup();
  });
  const current = (): TestBackend => {
    if (created === undefined) throw new Error(`the ${factory.name} backend was not created (see the beforeAll error)`);
    return created;
  };
  return {
    get port() {
      return current().port;
    },
    get scope() {
      return current().scope;
    },
    sibling: (more) => current().sibling(more),
    cleanup: () => current().cleanup(),
  };
}
