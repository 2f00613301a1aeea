/**
 * JSON request bodies, read only after the caller is authorized: a 415 for
 * another Content-Type, a streamed 2 MiB limit (413), nesting deeper than 32
 * levels refused by a byte scan before anything is parsed (400), then
 * JSON.parse (400 when malformed). The checked text is left in Hono's body
 * cache, where the zod-openapi validators read it.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppContext, AppEnv } from './env.js';
import { readBoundedBytes } from './body.js';
import { HttpProblem } from './problem.js';

/** JSON request bodies (everything but cache values) are limited to this (inclusive). */
export const MAX_JSON_BODY_BYTES = 2 * 1024 * 1024;
/** The body's own object or array is level 1. */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * True when arrays/objects nest deeper than `max`. One pass over the bytes,
 * skipping strings (UTF-8 continuation bytes never equal these ASCII bytes);
 * brackets are not matched here, JSON.parse rejects malformed text later.
 */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return false;
}

export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = (value.split(';')[0] ?? '').trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** Parsed bodies by request, so a body is read and parsed once. */
const parsed = new WeakMap<Request, unknown>();

/** Hono's body cache holds promises (its type says otherwise); c.req.json() parses the cached text. */
function cacheText(c: AppContext, text: string): void {
  (c.req.bodyCache as Record<string, Promise<string>>).text = Promise.resolve(text);
}

const unsupported = () =>
  new HttpProblem(415, 'unsupported-media-type', 'this route takes a JSON body: send Content-Type: application/json');
const tooLarge = (limit: JsonBodyLimit) => () =>
  new HttpProblem(413, 'body-too-large', `the JSON body exceeds ${limit.maxBytes} bytes${limit.name ? ` (${limit.name})` : ''}`);

/** A route's own bound on its whole JSON body (inclusive), named in the 413. */
export interface JsonBodyLimit {
  maxBytes: number;
  /** The setting that configures it, e.g. CACHE_MAX_MESSAGE_BYTES. */
  name?: string;
}

export interface JsonBodyOptions {
  /** An empty body (with or without a JSON Content-Type) is `undefined`. */
  optional?: boolean;
  /** Default: MAX_JSON_BODY_BYTES. */
  limit?: JsonBodyLimit;
}

/** Reads and parses the JSON body once per request. */
export async function readJson(c: AppContext, options: JsonBodyOptions = {}): Promise<unknown> {
  if (parsed.has(c.req.raw)) return parsed.get(c.req.raw);
  const contentType = c.req.header('content-type');
  if (contentType !== undefined && !isJsonContentType(contentType)) throw unsupported();
  const bytes = await readBoundedBytes(
    c,
    options.limit?.maxBytes ?? MAX_JSON_BODY_BYTES,
    tooLarge(options.limit ?? { maxBytes: MAX_JSON_BODY_BYTES }),
  );
  const text = bytes.toString('utf8');
  if (text.trim().length === 0 && options.optional) return undefined;
  if (contentType === undefined) throw unsupported();
  if (nestsDeeperThan(bytes, MAX_JSON_DEPTH)) {
    throw new HttpProblem(400, 'json-too-deep', `the JSON body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, 'malformed-json', 'the request body is not valid JSON');
  }
  parsed.set(c.req.raw, value);
  cacheText(c, text);
  return value;
}

/** A JSON object body (not an array or scalar), else 400. */
export function asObject(value: unknown, field = 'body'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpProblem(400, 'validation', `${field} must be a JSON object`, {}, [{ name: field, reason: 'must be a JSON object' }]);
  }
  return value as Record<string, unknown>;
}

/**
 * Route middleware for zod-openapi routes with a JSON body; it runs after the
 * authorization middleware and before the validators, which then read the
 * cached text.
 */
export function jsonBody(options: JsonBodyOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const value = await readJson(c, options);
    // An absent optional body stays empty (the validators then skip it, as they would unread).
    if (value === undefined) cacheText(c, '');
    await next();
  };
}
