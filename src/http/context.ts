/**
 * What every route module gets: the dependencies (AppDeps), the Hono env type
 * (AppEnv), a router factory, and the helpers route authors need: scope
 * checks and zod-validation → problem+json (field parsers are in ./fields.ts).
 */
import { OpenAPIHono, type Hook } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { allowsNamespace, hasScope, type Principal, type Scope } from './auth.js';
import type { AppContext, AppEnv } from './env.js';
import { readJson } from './json-body.js';
import { HttpProblem, validationProblem } from './problem.js';

export type { AppContext, AppDeps, AppEnv } from './env.js';

/** Turns a failed zod validation (params, query, JSON body) into a 400 problem with invalid-params. */
export const problemHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const issues = result.error.issues.map((issue) => {
    const base = formatPath(issue.path);
    // An unknown field is named itself, not its parent object.
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      return { name: base ? `${base}.${key}` : key, reason: 'is not a field of this request' };
    }
    return { name: base || (result.target === 'json' ? 'body' : String(result.target)), reason: issue.message };
  });
  throw validationProblem(issues);
};

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** A router for one route module: zod validation failures become problem+json. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: problemHook });
}

/**
 * Throws 401 (no/unknown token) or 403 (missing scope or namespace) unless the
 * caller may act with `scope` (on namespace `ns`, when the route has one).
 * Namespace patterns confine entries, counters, batch and namespaces;
 * coordination names are confined by their scope (requireNameScope).
 */
export function requireScope(c: AppContext, scope: Scope, ns?: string): Principal {
  const principal = c.get('principal');
  if (!principal) throw unauthorized();
  if (!hasScope(principal, scope)) throw new HttpProblem(403, 'forbidden', `this token lacks the ${scope} scope`);
  if (ns !== undefined && !allowsNamespace(principal, ns)) {
    throw new HttpProblem(403, 'forbidden', `this token may not access namespace ${JSON.stringify(ns)}`);
  }
  return principal;
}

/**
 * The scope of a coordination name (rate-limit key, lock name, presence
 * channel, session subject): the part before its first `:`, or the whole name.
 */
export function nameScope(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** The caller's namespace patterns allow the scope of coordination name `name`. */
export function mayUseName(c: AppContext, name: string): boolean {
  const principal = c.get('principal');
  return principal !== undefined && allowsNamespace(principal, nameScope(name));
}

/** 403 unless the caller may use coordination name `name` (see nameScope). */
export function requireNameScope(c: AppContext, name: string, what: string): void {
  if (!mayUseName(c, name)) {
    const detail = `this token may not use ${what} ${JSON.stringify(name)} (its scope is ${JSON.stringify(nameScope(name))})`;
    throw new HttpProblem(403, 'forbidden', detail);
  }
}

/** Which path parameter an authorization confines: a namespace, or a coordination name. */
export type AccessTarget = { namespace: string; name?: never; what?: never } | { name: string; what: string; namespace?: never };

/**
 * Route middleware, first in a route's chain: the scope, and the namespace
 * or coordination name taken from the path, are checked before any body is
 * read or validated (403 comes before 400, 413 and 415).
 */
export function authorize(scope: Scope, target?: AccessTarget): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ns = target?.namespace === undefined ? undefined : c.req.param(target.namespace);
    requireScope(c, scope, ns);
    if (target?.name !== undefined) {
      const name = c.req.param(target.name);
      if (name !== undefined) requireNameScope(c, name, target.what);
    }
    await next();
  };
}

/**
 * Route middleware after jsonBody() for routes whose coordination name is a
 * body field (rate-limit key, session subject): 403 for a name outside the
 * token's scope comes before the body's validation errors.
 */
export function authorizeBodyName(field: string, what: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const body = await readJson(c, { optional: true });
    const name = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
    if (typeof name === 'string') requireNameScope(c, name, what);
    await next();
  };
}

/** The caller may see namespace `ns` (for filtering lists). */
export function canSeeNamespace(c: AppContext, ns: string): boolean {
  const principal = c.get('principal');
  return principal !== undefined && allowsNamespace(principal, ns);
}

export function unauthorized(): HttpProblem {
  return new HttpProblem(401, 'unauthorized', 'send Authorization: Bearer <token> with a configured token', {
    'www-authenticate': 'Bearer realm="cacheport"',
  });
}
