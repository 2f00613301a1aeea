/**
 * What every route module gets: the dependencies (AppDeps), the Hono env type
 * (AppEnv), a router factory, and the helpers route authors need: scope
 * checks and zod-validation → problem+json (field parsers are in ./fields.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenAPIHono, type Hook } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { CachePort } from '../core/port.js';
import { allowsNamespace, hasScope, type Authenticator, type Principal, type Scope } from './auth.js';
import { HttpProblem, validationProblem } from './problem.js';

export interface AppDeps {
  port: CachePort;
  config: Config;
  logger: Logger;
  auth: Authenticator;
}

export interface AppEnv {
  /** Set by @hono/node-server; absent under app.request() in tests. */
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse };
  Variables: {
    requestId: string;
    /** Set by the auth middleware on /v1/*; undefined on public routes. */
    principal: Principal | undefined;
  };
}

export type AppContext = Context<AppEnv>;

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
 * Namespace patterns confine entries, counters, batch and namespaces; other
 * route families (rate limits, locks, sessions, presence) pass no `ns`.
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
