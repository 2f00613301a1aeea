/**
 * Key listings, top entries and bulk expire, the same on every adapter:
 * validation of the options, the opaque cursor, and turning the index window
 * a backend examined into one page.
 *
 * Paging rule (both backends): a page examines at most `scanWindow(limit)`
 * stored keys in byte order after the cursor (live or expired, the expired
 * ones are skipped) and returns the live ones, at most `limit`. So a page
 * costs O(limit) whatever the namespace holds; it is shorter than `limit`
 * only when the window met expired entries, and empty only when every key
 * in the window had expired. `cursor` is null only when the window reached
 * the end of the namespace (or prefix); otherwise it resumes after the last
 * key returned (a full page) or the last key examined (a short one).
 */
import { ValidationError } from './errors.js';
import type { ExpireManyFilter, KeyInfo, KeyListOptions, KeyPage } from './port.js';
import { validateKey, validateListLimit, validateNamespace, validatePrefix, validateTags } from './validation.js';

export const DEFAULT_KEY_LIST_LIMIT = 1000;
export const MAX_KEY_LIST_LIMIT = 10_000;
export const DEFAULT_TOP_LIMIT = 10;
export const MAX_TOP_LIMIT = 1000;
/** Keys per statement / script of a bulk expire: other writers wait for at most one batch. */
export const EXPIRE_BATCH = 1000;
/** Extra expired keys a page may skip beyond `limit` (at most this many, at most `limit`). */
const MAX_SKIP = 1000;

/** Stored keys one page examines: `limit` plus room to skip up to min(limit, 1000) expired ones. */
export function scanWindow(limit: number): number {
  return limit + Math.min(limit, MAX_SKIP);
}

export interface KeyListRequest {
  limit: number;
  /** Literal prefix; '' for all keys. */
  prefix: string;
  /** Keys strictly after this one; undefined from the start. */
  after: string | undefined;
}

export function prepareKeyList(ns: string, options: KeyListOptions = {}): KeyListRequest {
  validateNamespace(ns);
  if (typeof options !== 'object' || options === null) throw new ValidationError({ name: 'options', reason: 'must be an object' });
  validateListLimit(options.limit, MAX_KEY_LIST_LIMIT);
  const prefix = options.prefix ?? '';
  if (prefix !== '') validatePrefix(prefix);
  const after = options.cursor === undefined ? undefined : decodeKeyCursor(options.cursor);
  return { limit: options.limit ?? DEFAULT_KEY_LIST_LIMIT, prefix, after };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The cursor is the last key as base64url of its UTF-8: opaque to clients, checked like a key. */
export function encodeKeyCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeKeyCursor(cursor: unknown): string {
  const invalid = () => new ValidationError({ name: 'cursor', reason: 'is not a cursor returned by a previous page' });
  if (typeof cursor !== 'string' || !BASE64URL.test(cursor) || cursor.length % 4 === 1) throw invalid();
  const bytes = Buffer.from(cursor, 'base64url');
  // Canonical encoding only, and well-formed UTF-8 (a re-encode round trip proves both).
  const key = bytes.toString('utf8');
  if (bytes.toString('base64url') !== cursor || Buffer.from(key, 'utf8').toString('base64url') !== cursor) throw invalid();
  try {
    validateKey(key, 'cursor');
  } catch {
    throw invalid();
  }
  return key;
}

/** One stored key as a backend examined it; `live` false for an expired one. */
export interface ScannedKey extends KeyInfo {
  live: boolean;
}

/**
 * `scanned`: the stored keys a backend examined after the cursor, in byte
 * order, at most `window` (= scanWindow(limit)). See the paging rule above.
 */
export function toKeyPage(scanned: ScannedKey[], limit: number, window: number): KeyPage {
  const keys: KeyInfo[] = [];
  for (const [i, row] of scanned.entries()) {
    if (!row.live) continue;
    keys.push({ key: row.key, size: row.size, expiresAt: row.expiresAt });
    if (keys.length === limit) {
      const atEnd = i === scanned.length - 1 && scanned.length < window;
      return { keys, cursor: atEnd ? null : encodeKeyCursor(row.key) };
    }
  }
  const last = scanned[scanned.length - 1];
  return { keys, cursor: scanned.length < window || last === undefined ? null : encodeKeyCursor(last.key) };
}

export function prepareTop(ns: string, options: { limit?: number } = {}): number {
  validateNamespace(ns);
  if (typeof options !== 'object' || options === null) throw new ValidationError({ name: 'options', reason: 'must be an object' });
  validateListLimit(options.limit, MAX_TOP_LIMIT);
  return options.limit ?? DEFAULT_TOP_LIMIT;
}

/** What a bulk expire touches, validated: all live entries, a literal prefix, or any of the tags. */
export type ExpireScope = { kind: 'all' } | { kind: 'prefix'; prefix: string } | { kind: 'tags'; tags: string[] };

export function prepareExpireScope(filter: ExpireManyFilter | undefined): ExpireScope {
  if (filter === undefined) return { kind: 'all' };
  if (typeof filter !== 'object' || filter === null) throw new ValidationError({ name: 'filter', reason: 'must be an object' });
  const { prefix, tags } = filter as { prefix?: unknown; tags?: unknown };
  if (prefix !== undefined && tags !== undefined) {
    throw new ValidationError({ name: 'tags', reason: 'give at most one of prefix and tags' });
  }
  if (prefix !== undefined) {
    validatePrefix(prefix);
    return { kind: 'prefix', prefix };
  }
  if (tags !== undefined) {
    validateTags(tags, 'tags', false);
    return { kind: 'tags', tags: [...new Set(tags)] };
  }
  return { kind: 'all' };
}

/** Byte-wise order of UTF-8 keys: the order of COLLATE "C" and of Redis lex ranges. */
export function compareKeyBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
