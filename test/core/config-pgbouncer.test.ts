import { describe, expect, it } from 'vitest';
import { ConfigError, directDatabaseUrl, loadConfig } from '../../src/config.js';

describe('loadConfig: PgBouncer settings', () => {
  it('defaults: prepared statements on, no direct URL (the database URL itself), one instance', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/app' });
    expect(config).toMatchObject({ pgPrepare: true, databaseDirectUrl: undefined, instances: 1 });
    expect(directDatabaseUrl(config, 'postgres://db/app')).toBe('postgres://db/app');
  });

  it('reads PG_PREPARE, DATABASE_DIRECT_URL and CACHE_INSTANCES', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://pgbouncer:6432/app',
      DATABASE_DIRECT_URL: 'postgresql://db:5432/app',
      PG_PREPARE: 'false',
      CACHE_INSTANCES: '3',
    });
    expect(config).toMatchObject({ pgPrepare: false, databaseDirectUrl: 'postgresql://db:5432/app', instances: 3 });
    expect(directDatabaseUrl(config, 'postgres://pgbouncer:6432/app')).toBe('postgresql://db:5432/app');
  });

  it.each([
    ['PG_PREPARE', 'no'],
    ['DATABASE_DIRECT_URL', 'mysql://db/app'],
    ['CACHE_INSTANCES', '0'],
    ['CACHE_INSTANCES', 'three'],
  ])('%s=%s is refused by name', (variable, value) => {
    const error = (() => {
      try {
        loadConfig({ DATABASE_URL: 'postgres://db/app', [variable]: value });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.variable)).toEqual([variable]);
  });

  it('DATABASE_DIRECT_URL without DATABASE_URL is refused (the embedded server is always direct)', () => {
    expect(() => loadConfig({ DATABASE_DIRECT_URL: 'postgres://db/app' })).toThrow(/DATABASE_DIRECT_URL: needs DATABASE_URL/);
  });
});
