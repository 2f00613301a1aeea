/**
 * How port values travel in requests and answers: path segments, durations,
 * entity tags, tag headers and timestamps (the server's side is src/http).
 */
import { ValidationError } from '../../core/errors.js';
import type { WriteCondition } from '../../core/port.js';

/**
 * One path segment. `/` becomes %2F, which the server decodes back to `/`, so
 * a key (or name) is always the single rest-of-path value it was; `%`, spaces
 * and non-ASCII are percent-encoded UTF-8.
 */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * A lock, channel or presence name as one path segment. `.` and `..` are valid
 * port names, but every URL parser folds them into the path (`/v1/locks/..` is
 * `/v1/`), and these routes have no other way in: a ValidationError here.
 */
export function nameSegment(value: string, field: string): string {
  if (value === '.' || value === '..')
    throw new ValidationError({ name: field, reason: `"${value}" cannot be sent over HTTP (a URL path folds it away)` });
  return segment(value);
}

/**
 * Whether the path routes can address `key`: they refuse an empty, `.` or `..`
 * segment (URL normalisation would make it another key). Such keys are valid
 * port keys all the same; the adapter sends them through POST /v1/batch.
 */
export function pathAddressable(key: string): boolean {
  return key.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** `/v1/cache/{ns}/{key}` and the like. */
export function keyPath(family: 'cache' | 'counters', ns: string, key: string): string {
  return `/v1/${family}/${segment(ns)}/${segment(key)}`;
}

/** ms → the API's duration text (`250ms`); exact, never rounded. */
export function duration(ms: number): string {
  return `${ms}ms`;
}

/** A ttl as the entries route's query: ms, `none` for no expiry, omitted for the namespace default. */
export function ttlQuery(ttl: number | null | undefined): string | undefined {
  if (ttl === undefined) return undefined;
  return ttl === null ? 'none' : duration(ttl);
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** `"abc"` (or `W/"abc"`) → `abc`; undefined when absent. */
export function unquoteEtag(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const match = /^(?:W\/)?"(.*)"$/.exec(value.trim());
  return match ? match[1] : value.trim();
}

/** The write condition as If-Match / If-None-Match headers. */
export function conditionHeaders(condition: WriteCondition): Record<string, string> {
  if (condition === 'absent') return { 'if-none-match': '*' };
  if (condition === 'present') return { 'if-match': '*' };
  if (condition === 'always') return {};
  return { 'if-match': quoteEtag(condition.etag) };
}

/** Tags as `Cache-Tag`: percent-encoded outside printable ASCII, and `%` and `,` themselves. */
export function tagHeader(tags: readonly string[]): string {
  return tags.map((tag) => tag.replace(/[^\x21-\x7e]|[%,]/gu, (ch) => encodeURIComponent(ch))).join(', ');
}

/** `Cache-Tag` of an answer → the tags. */
export function parseTagHeader(header: string | string[] | undefined): string[] {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined || value === '') return [];
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((t) => decodeURIComponent(t));
}

/** ISO 8601 (or null) → epoch ms (or null). */
export function epochMs(iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined) return null;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`the cacheport server sent an invalid timestamp ${JSON.stringify(iso)}`);
  return ms;
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
