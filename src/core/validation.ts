/**
 * Input validation shared by every adapter and the HTTP layer. Adapters call
 * these before any backend call, so invalid input never reaches a backend.
 */
import { LimitExceededError, ValidationError } from './errors.js';
import { MAX_DURATION_MS } from './duration.js';
import { MAX_LOCAL_CACHE_ENTRIES, MAX_LOCAL_CACHE_TTL_MS } from './defaults.js';
import type { LocalCacheConfig, NamespaceConfig, WriteCondition } from './port.js';

export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** Lock names, presence channels and members. */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;
export const MAX_KEY_BYTES = 1024;
export const MAX_TAGS = 64;
export const MAX_TAG_BYTES = 256;
export const MAX_CONTENT_TYPE_LENGTH = 255;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

function fail(name: string, reason: string): never {
  throw new ValidationError({ name, reason });
}

export function validateNamespace(ns: unknown, field = 'namespace'): asserts ns is string {
  if (typeof ns !== 'string' || !NAMESPACE_PATTERN.test(ns)) {
    fail(field, `must match ${NAMESPACE_PATTERN.source} (lowercase letters, digits, _ . -; at most 63 characters)`);
  }
}

/** Keys (and tags, prefixes, rate-limit keys): well-formed UTF-8 text without NUL. */
function validateText(value: unknown, field: string, maxBytes: number, minBytes: number): asserts value is string {
  if (typeof value !== 'string') fail(field, 'must be a string');
  if (!value.isWellFormed()) fail(field, 'must be valid UTF-8 (no lone surrogates)');
  if (value.includes('\u0000')) fail(field, 'must not contain NUL');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < minBytes) fail(field, minBytes === 1 ? 'must not be empty' : `must be at least ${minBytes} bytes`);
  if (bytes > maxBytes) fail(field, `is ${bytes} bytes of UTF-8; the maximum is ${maxBytes}`);
}

export function validateKey(key: unknown, field = 'key'): asserts key is string {
  validateText(key, field, MAX_KEY_BYTES, 1);
}

export function validateKeys(keys: unknown, field = 'keys'): asserts keys is string[] {
  if (!Array.isArray(keys)) fail(field, 'must be an array of keys');
  keys.forEach((key, i) => validateKey(key, `${field}[${i}]`));
}

/** A prefix may be empty? No: an empty prefix would mean "clear", which has its own call. */
export function validatePrefix(prefix: unknown, field = 'prefix'): asserts prefix is string {
  validateText(prefix, field, MAX_KEY_BYTES, 1);
}

export function validateTags(tags: unknown, field = 'tags', allowEmpty = true): asserts tags is string[] {
  if (!Array.isArray(tags)) fail(field, 'must be an array of strings');
  if (!allowEmpty && tags.length === 0) fail(field, 'must name at least one tag');
  if (tags.length > MAX_TAGS) fail(field, `has ${tags.length} tags; the maximum is ${MAX_TAGS}`);
  tags.forEach((tag, i) => validateText(tag, `${field}[${i}]`, MAX_TAG_BYTES, 1));
}

/** A ttl in ms: a positive integer up to 365 days, or null (no expiry) where allowed. */
export function validateTtl(ttl: unknown, field = 'ttl', allowNull = true): asserts ttl is number | null | undefined {
  if (ttl === undefined) return;
  if (ttl === null) {
    if (allowNull) return;
    fail(field, 'is required');
  }
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) fail(field, 'must be a positive integer number of milliseconds');
  if (ttl > MAX_DURATION_MS) fail(field, 'must not exceed 365 days');
}

export function validateRequiredTtl(ttl: unknown, field = 'ttl'): asserts ttl is number {
  if (ttl === undefined || ttl === null) fail(field, 'is required');
  validateTtl(ttl, field, false);
}

export function validateContentType(contentType: unknown, field = 'contentType'): asserts contentType is string | undefined {
  if (contentType === undefined) return;
  if (typeof contentType !== 'string' || contentType.length === 0) fail(field, 'must be a non-empty string');
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH) fail(field, `must be at most ${MAX_CONTENT_TYPE_LENGTH} characters`);
  if (!/^[\x20-\x7e]+$/.test(contentType)) fail(field, 'must be printable ASCII');
}

export function validateCondition(condition: unknown, field = 'condition'): asserts condition is WriteCondition | undefined {
  if (condition === undefined || condition === 'always' || condition === 'absent' || condition === 'present') return;
  if (typeof condition === 'object' && condition !== null && 'etag' in condition) {
    const { etag } = condition as { etag: unknown };
    if (typeof etag === 'string' && etag.length > 0 && etag.length <= 128) return;
    fail(`${field}.etag`, 'must be a non-empty string of at most 128 characters');
  }
  fail(field, "must be 'always', 'absent', 'present' or { etag }");
}

/** Converts a value to bytes and checks the size limit (inclusive). */
export function toValueBytes(value: unknown, maxBytes: number, field = 'value'): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') {
    if (!value.isWellFormed()) fail(field, 'string values must be valid UTF-8 (no lone surrogates)');
    bytes = Buffer.from(value, 'utf8');
  } else if (value instanceof Uint8Array) {
    bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  } else {
    fail(field, 'must be a string or bytes (Uint8Array)');
  }
  if (bytes.byteLength > maxBytes) throw new LimitExceededError(field, maxBytes, bytes.byteLength);
  return bytes;
}

/** `by` for increment: an integer within signed 64 bits. */
export function toIncrementBy(by: unknown, field = 'by'): bigint {
  if (by === undefined) return 1n;
  if (typeof by === 'bigint') {
    if (by < INT64_MIN || by > INT64_MAX) fail(field, 'must fit in a signed 64-bit integer');
    return by;
  }
  if (typeof by === 'number' && Number.isSafeInteger(by)) return BigInt(by);
  fail(field, 'must be an integer (a number within ±2^53 or a bigint)');
}

export function validateBatchSize(count: number, max: number, field: string): void {
  if (count > max) throw new LimitExceededError(field, max, count);
}

export function validateName(name: unknown, field: string): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    fail(field, `must match ${NAME_PATTERN.source}`);
  }
}

function validateLimit(value: unknown, field: string, allowNull: boolean): void {
  if (value === null && allowNull) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(field, 'must be a positive integer or null');
}

/** Validates a partial namespace configuration (fields omitted take the defaults). */
export function validateNamespaceConfig(config: unknown): asserts config is Partial<NamespaceConfig> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail('config', 'must be an object');
  const c = config as Record<string, unknown>;
  const known = new Set(['defaultTtl', 'maxEntries', 'maxBytes', 'eviction', 'durable', 'localCache']);
  for (const k of Object.keys(c)) if (!known.has(k)) fail(k, 'is not a namespace setting');
  if (c.defaultTtl !== undefined) validateTtl(c.defaultTtl, 'defaultTtl');
  if (c.maxEntries !== undefined) validateLimit(c.maxEntries, 'maxEntries', true);
  if (c.maxBytes !== undefined) validateLimit(c.maxBytes, 'maxBytes', true);
  if (c.eviction !== undefined && c.eviction !== 'lru' && c.eviction !== 'none') fail('eviction', "must be 'lru' or 'none'");
  if (c.durable !== undefined && typeof c.durable !== 'boolean') fail('durable', 'must be a boolean');
  if (c.localCache !== undefined) validateLocalCacheConfig(c.localCache);
}

/** `localCache`: null (off) or exactly `{ maxEntries, ttl }` with both in range. */
function validateLocalCacheConfig(value: unknown): asserts value is LocalCacheConfig | null {
  if (value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) fail('localCache', 'must be an object {maxEntries, ttl} or null');
  const local = value as Record<string, unknown>;
  for (const k of Object.keys(local)) if (k !== 'maxEntries' && k !== 'ttl') fail(`localCache.${k}`, 'is not a local cache setting');
  const { maxEntries, ttl } = local;
  if (maxEntries === undefined) fail('localCache.maxEntries', 'is required');
  if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_LOCAL_CACHE_ENTRIES) {
    fail('localCache.maxEntries', `must be an integer from 1 to ${MAX_LOCAL_CACHE_ENTRIES}`);
  }
  if (ttl === undefined) fail('localCache.ttl', 'is required');
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0)
    fail('localCache.ttl', 'must be a positive integer number of milliseconds');
  if (ttl > MAX_LOCAL_CACHE_TTL_MS) fail('localCache.ttl', 'must not exceed 1h');
}

// ---------------------------------------------------------------- sessions and presence

export const MAX_SUBJECT_LENGTH = 256;
/** Inclusive limit on a session's data, as serialized JSON (UTF-8 bytes). */
export const DEFAULT_MAX_SESSION_DATA_BYTES = 64 * 1024;
/** Inclusive limit on a presence member's data, as serialized JSON (UTF-8 bytes). */
export const DEFAULT_MAX_PRESENCE_DATA_BYTES = 4 * 1024;
const MAX_JSON_DEPTH = 64;

/** A session subject: 1–256 characters (code points), well-formed, no NUL. */
export function validateSubject(subject: unknown, field = 'subject'): asserts subject is string {
  if (typeof subject !== 'string') fail(field, 'must be a string');
  if (!subject.isWellFormed()) fail(field, 'must be valid UTF-8 (no lone surrogates)');
  if (subject.includes('\u0000')) fail(field, 'must not contain NUL');
  const length = Array.from(subject).length;
  if (length < 1) fail(field, 'must not be empty');
  if (length > MAX_SUBJECT_LENGTH) fail(field, `is ${length} characters; the maximum is ${MAX_SUBJECT_LENGTH}`);
}

/** Sliding ttl and absolute maxAge of a session, both ms; maxAge ≥ ttl. */
export function validateSessionLifetime(ttl: unknown, maxAge: unknown): asserts ttl is number {
  validateRequiredTtl(ttl, 'ttl');
  validateRequiredTtl(maxAge, 'maxAge');
  if ((maxAge as number) < ttl) fail('maxAge', 'must not be shorter than ttl');
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (depth > MAX_JSON_DEPTH) fail(path, `nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, 'must be a finite number');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) checkJson(v, `${path}.${k}`, depth + 1);
    return;
  }
  fail(path, 'must be JSON (null, boolean, finite number, string, array or plain object)');
}

/** Checks that `value` is JSON and serializes it; over `maxBytes` (inclusive) → LimitExceededError. */
export function serializeJson(value: unknown, maxBytes: number, field = 'data'): string {
  checkJson(value, field, 0);
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) throw new LimitExceededError(field, maxBytes, bytes);
  return text;
}

/** As serializeJson, for values that must be a JSON object (session data). */
export function serializeJsonObject(value: unknown, maxBytes: number, field = 'data'): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be a JSON object');
  return serializeJson(value, maxBytes, field);
}

/** A page size: a positive integer up to `max` (inclusive); undefined → the caller's default. */
export function validateListLimit(limit: unknown, max: number, field = 'limit'): asserts limit is number | undefined {
  if (limit === undefined) return;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) fail(field, 'must be a positive integer');
  if (limit > max) fail(field, `must be at most ${max}`);
}

export const DEFAULT_PRESENCE_LIMIT = 1000;
export const MAX_PRESENCE_LIMIT = 10_000;

export interface SessionLimits {
  /** Inclusive limit on serialized session data, bytes. */
  maxSessionDataBytes: number;
  /** Inclusive limit on serialized presence data, bytes. */
  maxPresenceDataBytes: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxSessionDataBytes: DEFAULT_MAX_SESSION_DATA_BYTES,
  maxPresenceDataBytes: DEFAULT_MAX_PRESENCE_DATA_BYTES,
};

/** Validates createSession input; returns the data serialized (`{}` when omitted). */
export function prepareSessionCreate(
  options: unknown,
  limits: SessionLimits,
): { subject: string; dataJson: string; ttl: number; maxAge: number } {
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object');
  const { subject, data, ttl, maxAge } = options as Record<string, unknown>;
  validateSubject(subject);
  validateSessionLifetime(ttl, maxAge);
  const dataJson = serializeJsonObject(data ?? {}, limits.maxSessionDataBytes);
  return { subject, dataJson, ttl, maxAge: maxAge as number };
}

/** Validates heartbeat input; returns the data serialized (`null` when omitted). */
export function prepareHeartbeat(
  channel: unknown,
  member: unknown,
  options: unknown,
  limits: SessionLimits,
): { dataJson: string; ttl: number } {
  validateName(channel, 'channel');
  validateName(member, 'member');
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object with ttl');
  const { ttl, data } = options as Record<string, unknown>;
  validateRequiredTtl(ttl);
  return { dataJson: serializeJson(data ?? null, limits.maxPresenceDataBytes), ttl };
}
