/**
 * Loads the adapters at run time, so the harness still runs (reporting n/a)
 * while an adapter module is missing or incomplete.
 */
import { DEFAULT_ADAPTER_OPTIONS, type AdapterOptions } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import { errorMessage } from './measurement.js';

export type PostgresPortOptions = AdapterOptions & {
  url: string;
  schema: string;
  poolMax: number;
  /** false: one statement per call (request coalescing is on by default). */
  coalesce?: false;
};
export type RedisPortOptions = AdapterOptions & { url: string; prefix: string };

export type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

async function loadFactory<O>(specifier: string, exportName: string): Promise<Loaded<(options: O) => CachePort | Promise<CachePort>>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, reason: `cannot load ${specifier}: ${errorMessage(error).split('\n')[0] ?? ''}` };
  }
  const factory = mod[exportName];
  if (typeof factory !== 'function') return { ok: false, reason: `${specifier} does not export ${exportName}` };
  return { ok: true, value: factory as (options: O) => CachePort | Promise<CachePort> };
}

async function create<O>(specifier: string, exportName: string, options: O): Promise<Loaded<CachePort>> {
  const factory = await loadFactory<O>(specifier, exportName);
  if (!factory.ok) return factory;
  try {
    return { ok: true, value: await factory.value(options) };
  } catch (error) {
    return { ok: false, reason: `${exportName} failed: ${errorMessage(error)}` };
  }
}

export function createPostgresAdapter(options: Omit<PostgresPortOptions, keyof AdapterOptions>): Promise<Loaded<CachePort>> {
  return create<PostgresPortOptions>('../../src/adapters/postgres/index.js', 'createPostgresPort', {
    ...DEFAULT_ADAPTER_OPTIONS,
    ...options,
  });
}

export function createRedisAdapter(options: Omit<RedisPortOptions, keyof AdapterOptions>): Promise<Loaded<CachePort>> {
  return create<RedisPortOptions>('../../src/adapters/redis/index.js', 'createRedisPort', { ...DEFAULT_ADAPTER_OPTIONS, ...options });
}
