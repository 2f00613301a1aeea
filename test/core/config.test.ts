import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CLEANUP_BATCH_SIZE, DEFAULT_CLEANUP_PAUSE_MS, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      backend: 'postgres',
      host: '127.0.0.1',
      port: 8080,
      schema: 'cacheport',
      pgPoolMax: 10,
      defaultTtl: 3_600_000,
      maxValueBytes: 1024 * 1024,
      maxBatch: 1000,
      backendTimeoutMs: 2000,
      worker: 'inline',
      rateLimitFailOpen: true,
      redisPrefix: 'cacheport',
    });
  });

  it('reads durations, none and cluster nodes', () => {
    const config = loadConfig({ CACHE_DEFAULT_TTL: 'none', CLEANUP_INTERVAL: '5s', REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' });
    expect(config.defaultTtl).toBeNull();
    expect(config.cleanupIntervalMs).toBe(5000);

    expect(config.redisClusterNodes).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
    ]);
  });

  it('reads the cleanup pacing, defaulting to DEFAULT_CLEANUP_BATCH_SIZE rows and DEFAULT_CLEANUP_PAUSE_MS', () => {
    expect(loadConfig({})).toMatchObject({ cleanupBatchSize: DEFAULT_CLEANUP_BATCH_SIZE, cleanupPauseMs: DEFAULT_CLEANUP_PAUSE_MS });
    expect(loadConfig({ CLEANUP_BATCH_SIZE: '250', CLEANUP_PAUSE_MS: '0' })).toMatchObject({ cleanupBatchSize: 250, cleanupPauseMs: 0 });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PG_POOL_MAX', '0'],
    ['CACHE_BACKEND', 'memcached'],
    ['CACHE_SCHEMA', 'Robert"); drop table x;--'],
    ['CACHE_DEFAULT_TTL', '1.5s'],
    ['CLEANUP_INTERVAL', 'none'],
    ['CLEANUP_BATCH_SIZE', '0'],
    ['CLEANUP_BATCH_SIZE', '1e3'],
    ['CLEANUP_PAUSE_MS', '-1'],
    ['CLEANUP_PAUSE_MS', '60001'],
    ['RATE_LIMIT_FAIL_OPEN', 'maybe'],
    ['REDIS_CLUSTER_NODES', 'localhost'],
    ['REDIS_PREFIX', 'has space'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['REDIS_URL', '127.0.0.1:6379'],
    ['LOG_LEVEL', 'loud'],
    ['CHANNEL_RETENTION', '0s'],
    ['CHANNEL_RETENTION', 'none'],
    ['CHANNEL_RETENTION', '1 minute'],
    ['CACHE_MAX_MESSAGE_BYTES', '0'],
    ['CACHE_MAX_MESSAGE_BYTES', '64k'],
  ])('rejects %s=%j with an error naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

describe('loadConfig reports every invalid variable at once', () => {
  it('names each bad variable in one ConfigError', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', PG_POOL_MAX: '0', LOG_LEVEL: 'loud', STARTUP_TIMEOUT: 'soon', CACHE_SCHEMA: 'Bad-Name' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const issues = (caught as ConfigError).issues.map((issue) => issue.variable).sort();
    expect(issues).toEqual(['CACHE_SCHEMA', 'LOG_LEVEL', 'PG_POOL_MAX', 'PORT', 'STARTUP_TIMEOUT']);
    expect((caught as ConfigError).message).toContain('PORT: must be a whole number');
  });

  it('reads STARTUP_TIMEOUT (default 60 s) and lets REDIS_COMMAND_TIMEOUT_MS default to BACKEND_TIMEOUT_MS', () => {
    expect(loadConfig({}).startupTimeoutMs).toBe(60_000);
    expect(loadConfig({ STARTUP_TIMEOUT: '3s' }).startupTimeoutMs).toBe(3000);
    expect(loadConfig({ BACKEND_TIMEOUT_MS: '700' }).redisCommandTimeoutMs).toBe(700);
    expect(loadConfig({ BACKEND_TIMEOUT_MS: '700', REDIS_COMMAND_TIMEOUT_MS: '900' }).redisCommandTimeoutMs).toBe(900);
  });

  it('reads CHANNEL_RETENTION as a duration (default 60 s) and CACHE_MAX_MESSAGE_BYTES (default 64 KiB)', () => {
    expect(loadConfig({})).toMatchObject({ channelRetentionMs: 60_000, maxMessageBytes: 65_536 });
    expect(loadConfig({ CHANNEL_RETENTION: '3s' }).channelRetentionMs).toBe(3000);
    expect(loadConfig({ CHANNEL_RETENTION: '5m' }).channelRetentionMs).toBe(300_000);
    expect(loadConfig({ CACHE_MAX_MESSAGE_BYTES: '1024' }).maxMessageBytes).toBe(1024);
  });
});
