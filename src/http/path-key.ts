/**
 * Namespace and key from the request path. The key is the rest of the path
 * after the namespace, percent-decoded exactly once, so `a%2Fb` and `a/b` are
 * the same key. It is read from the raw request target, because URL parsing
 * would silently resolve `.`/`..` segments (also `%2e%2e`) into another key.
 */
import { validateKey, validateNamespace } from '../core/validation.js';
import type { Scope } from './auth.js';
import { requireScope, type AppContext } from './context.js';
import { invalidParam } from './problem.js';

/** The raw path (no query), as the client sent it when the server exposes it. */
export function rawPath(c: AppContext): string {
  const target = c.env?.incoming?.url ?? new URL(c.req.url).pathname;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  // Absolute-form targets (`http://host/path`) are legal HTTP; keep only the path.
  return path.startsWith('/') ? path : new URL(path).pathname;
}

export type KeyFamily = 'cache' | 'counters';

export interface NamespacedKey {
  ns: string;
  key: string;
}

/**
 * Parses `/v1/<family>/{ns}/{key...}` and authorizes `scope` on the namespace
 * before validating anything (403 comes before 400); then throws a 400
 * problem naming `namespace` or `key`.
 */
export function namespacedKey(c: AppContext, family: KeyFamily, scope: Scope): NamespacedKey {
  const prefix = `/v1/${family}/`;
  const path = rawPath(c);
  if (!path.startsWith(prefix)) throw invalidParam('key', 'the path must be /v1/' + family + '/{namespace}/{key}');
  const rest = path.slice(prefix.length);
  const slash = rest.indexOf('/');
  const rawNs = slash === -1 ? rest : rest.slice(0, slash);
  const rawKey = slash === -1 ? '' : rest.slice(slash + 1);
  const ns = decodeOnce(rawNs, 'namespace');
  requireScope(c, scope, ns);
  validateNamespace(ns);
  const key = decodeOnce(rawKey, 'key');
  validateHttpKey(key);
  return { ns, key };
}

/**
 * Keys over HTTP (path or batch): the port's rules plus no empty, `.` or `..`
 * segment, so every key written by one route is addressable by the others.
 */
export function validateHttpKey(key: unknown, field = 'key'): asserts key is string {
  if (key === '') throw invalidParam(field, 'must not be empty');
  if (typeof key === 'string' && key.includes('\u0000')) throw invalidParam(field, 'must not contain NUL');
  validateKey(key, field);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalidParam(field, 'must not contain an empty, "." or ".." path segment');
    }
  }
}

function decodeOnce(raw: string, field: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidParam(field, 'is not valid percent-encoded UTF-8');
  }
}
