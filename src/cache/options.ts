/**
 * createCache options: every one checked at construction (a bad option is a
 * ValidationError naming it) and completed with defaults safe for a web service.
 */
import { parseDuration, MAX_DURATION_MS } from '../core/duration.js';
import { ValidationError } from '../core/errors.js';
import { validateNamespace, validateTags } from '../core/validation.js';
import type { CachePort } from '../core/port.js';
import type { CacheOptions, Duration, TimeoutsOption } from './types.js';
import { resolveSerializer, type Serializer } from './serializer.js';

export const DEFAULT_LOCAL_TTL_MS = 5_000;
export const MAX_LOCAL_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_HARD_TIMEOUT_MS = 10_000;
export const MAX_LOCAL_ENTRIES = 1_000_000;

export interface LocalCacheSettings {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
}

export interface Timeouts {
  softMs: number;
  hardMs: number;
}

export interface CacheSettings {
  namespace: string;
  serializer: Serializer;
  local: LocalCacheSettings | null;
  /** undefined → the namespace default; null → no expiry. */
  defaultTtlMs: number | null | undefined;
  graceMs: number;
  timeouts: Timeouts;
}

function fail(name: string, reason: string): never {
  throw new ValidationError({ name, reason });
}

/** A duration in ms: a positive integer number of ms, or a duration string. */
export function toMs(input: unknown, field: string, allowZero = false): number {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 0 || (input === 0 && !allowZero)) {
      fail(field, `must be a ${allowZero ? 'non-negative' : 'positive'} integer number of milliseconds or a string like 30s`);
    }
    if (input > MAX_DURATION_MS) fail(field, 'must not exceed 365 days');
    return input;
  }
  const parsed = parseDuration(input);
  if (!parsed.ok || typeof input !== 'string') fail(field, parsed.ok ? 'must be a number of ms or a duration string' : parsed.reason);
  return parsed.ms;
}

export function toTtlMs(input: Duration | null | undefined, field: string): number | null | undefined {
  if (input === undefined || input === null) return input;
  return toMs(input, field);
}

export function resolveTimeouts(input: TimeoutsOption | undefined, base: Timeouts, field: string): Timeouts {
  if (input === undefined) return base;
  if (typeof input !== 'object' || input === null) fail(field, 'must be an object { soft?, hard? }');
  const softMs = input.soft === undefined ? base.softMs : toMs(input.soft, `${field}.soft`, true);
  const hardMs = input.hard === undefined ? base.hardMs : toMs(input.hard, `${field}.hard`);
  if (softMs > hardMs) fail(`${field}.soft`, 'must not exceed timeouts.hard');
  return { softMs, hardMs };
}

function resolveLocal(input: CacheOptions['localCache']): LocalCacheSettings | null {
  if (input === undefined || input === false) return null;
  if (typeof input !== 'object' || input === null) fail('localCache', 'must be an object { maxEntries, maxBytes?, ttl? } or false');
  const { maxEntries, maxBytes, ttl } = input;
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_LOCAL_ENTRIES) {
    fail('localCache.maxEntries', `must be an integer from 1 to ${MAX_LOCAL_ENTRIES}`);
  }
  if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 1)) fail('localCache.maxBytes', 'must be a positive integer');
  const ttlMs = ttl === undefined ? DEFAULT_LOCAL_TTL_MS : toMs(ttl, 'localCache.ttl');
  if (ttlMs > MAX_LOCAL_TTL_MS) fail('localCache.ttl', 'must not exceed 1h');
  return { maxEntries, maxBytes: maxBytes ?? Number.POSITIVE_INFINITY, ttlMs };
}

/** The port given, checked. */
export function checkGivenPort(port: unknown): CachePort {
  if (typeof port !== 'object' || port === null || typeof (port as { get?: unknown }).get !== 'function') {
    fail('port', 'must be a CachePort (from openPort or an adapter factory)');
  }
  return port as CachePort;
}

export function checkPortChoice(options: CacheOptions): void {
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object');
  if ((options.port === undefined) === (options.url === undefined)) fail('port', 'give exactly one of port and url');
  if (options.url !== undefined && typeof options.url !== 'string') fail('url', 'must be a string');
  if (options.port !== undefined && options.portOptions !== undefined) fail('portOptions', 'apply to url only');
  if (options.token !== undefined && options.url === undefined) fail('token', 'applies to url only');
  if (options.token !== undefined && options.portOptions?.token !== undefined) fail('token', 'give it once: token or portOptions.token');
}

export function resolveOptions(options: CacheOptions): CacheSettings {
  validateNamespace(options.namespace, 'namespace');
  const local = resolveLocal(options.localCache);
  return {
    namespace: options.namespace,
    serializer: resolveSerializer(options.serializer),
    local,
    defaultTtlMs: toTtlMs(options.defaultTtl, 'defaultTtl'),
    graceMs: options.grace === undefined ? 0 : toMs(options.grace, 'grace', true),
    timeouts: resolveTimeouts(options.timeouts, { softMs: 0, hardMs: DEFAULT_HARD_TIMEOUT_MS }, 'timeouts'),
  };
}

export function validateWriteTags(tags: unknown, field = 'tags'): asserts tags is string[] | undefined {
  if (tags !== undefined) validateTags(tags, field);
}
