/**
 * Parsers for the HTTP request fields that several routes share: durations
 * (`ttl`, `window`, `wait`), `ttl` with `none`/null, counter `by`, and entity
 * tags. Each throws a 400 naming the field.
 */
import { parseDuration } from '../core/duration.js';
import { ValidationError } from '../core/errors.js';
import { toIncrementBy } from '../core/validation.js';
import { invalidParam } from './problem.js';

/**
 * Parses a duration field to ms: a positive integer of seconds (`30` or
 * `"30"`) or `250ms`/`30s`/`5m`/`2h`/`1d`, at most 365d.
 */
export function parseDurationField(value: unknown, field: string): number {
  const parsed = parseDuration(value);
  if (!parsed.ok) throw new ValidationError({ name: field, reason: parsed.reason });
  return parsed.ms;
}

/** A ttl field: a duration, or null / "none" for no expiry; undefined → default. */
export function parseTtlOrNone(value: unknown, field = 'ttl'): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === 'none') return null;
  return parseDurationField(value, field);
}

/** `by`: a JSON integer within ±2^53, or a decimal string for the full 64-bit range. */
export function parseBy(value: unknown, field = 'by'): bigint {
  if (typeof value === 'string') {
    if (!/^-?(0|[1-9][0-9]{0,18})$/.test(value)) throw invalidParam(field, 'must be an integer (a JSON number, or a decimal string)');
    return toIncrementBy(BigInt(value), field);
  }
  return toIncrementBy(value, field);
}

/** ETags are opaque tokens; on the wire they are quoted (RFC 9110). */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** Parses an entity-tag list (`"a", W/"b"`) into bare tags; `*` → ['*']. */
export function parseEtagList(header: string, field: string): string[] {
  const trimmed = header.trim();
  if (trimmed === '*') return ['*'];
  const tags: string[] = [];
  const pattern = /\s*(?:W\/)?"([^"]*)"\s*(?:,|$)/gy;
  let consumed = 0;
  for (let m = pattern.exec(trimmed); m !== null && m[0] !== ''; m = pattern.exec(trimmed)) {
    tags.push(m[1] as string);
    consumed = pattern.lastIndex;
  }
  if (tags.length === 0 || consumed !== trimmed.length) throw invalidParam(field, 'must be * or a list of quoted entity tags');
  return tags;
}

/**
 * Refuses a query parameter whose raw value is not valid percent-encoded UTF-8 (`a%FF`, `%E0%A4`, a lone `%`).
 * The router decodes leniently and keeps such sequences as literal text, so `?prefix=a%FF` would silently mean
 * the key text `a%FF` (which is `?prefix=a%25FF`).
 */
export function requireStrictQueryEncoding(url: string, name: string): void {
  const query = url.indexOf('?');
  if (query === -1) return;
  for (const pair of url.slice(query + 1).split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    if (lenientDecode(rawName) !== name || eq === -1) continue;
    try {
      decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      throw invalidParam(name, 'is not valid percent-encoded UTF-8 (write % as %25)');
    }
  }
}

function lenientDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
