/**
 * Bearer-token authentication and scope/namespace authorization.
 *
 * Tokens come from CACHE_TOKENS (JSON) or CACHE_TOKENS_FILE (same JSON in a
 * file): [{ "token", "scopes": ["read"|"write"|"admin"], "namespaces": ["name" | "prefix*" | "*"] }].
 * Tokens are compared as SHA-256 digests with timingSafeEqual against every
 * configured token (no early exit), so timing reveals neither a match nor a
 * common prefix.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';

export type Scope = 'read' | 'write' | 'admin';
const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

export interface Principal {
  /** Serving without tokens (loopback bind or CACHE_ALLOW_ANONYMOUS). */
  anonymous: boolean;
  scopes: ReadonlySet<Scope>;
  /** `name`, `prefix*` or `*`. */
  namespaces: readonly string[];
}

interface TokenRecord extends Principal {
  digest: Buffer;
}

export interface Authenticator {
  /** True when no tokens are configured and requests are served anonymously. */
  readonly anonymous: boolean;
  /** The principal for an Authorization header value, or undefined (→ 401). */
  authenticate(authorization: string | undefined): Principal | undefined;
}

const ANONYMOUS: Principal = { anonymous: true, scopes: new Set(SCOPES), namespaces: ['*'] };

/** One-shot hash: no Hash object per request (this runs on every authenticated request). */
function digest(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}

/** True when the principal's namespace patterns allow `ns`. */
export function allowsNamespace(principal: Principal, ns: string): boolean {
  return principal.namespaces.some((pattern) => (pattern.endsWith('*') ? ns.startsWith(pattern.slice(0, -1)) : ns === pattern));
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope);
}

const HOW_TO =
  'Set CACHE_TOKENS to a JSON array such as [{"token":"<secret>","scopes":["read","write","admin"],"namespaces":["*"]}] ' +
  '(or CACHE_TOKENS_FILE to a file holding it), or set CACHE_ALLOW_ANONYMOUS=true to serve without authentication.';

function parseTokenList(source: string, raw: string): TokenRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(source, `is not valid JSON. ${HOW_TO}`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(source, `must be a JSON array. ${HOW_TO}`);
  return parsed.map((item: unknown, i): TokenRecord => {
    const where = `${source}[${i}]`;
    if (typeof item !== 'object' || item === null) throw new ConfigError(where, 'must be an object { token, scopes, namespaces }');
    const { token, scopes, namespaces } = item as Record<string, unknown>;
    if (typeof token !== 'string' || token.length < 8) throw new ConfigError(`${where}.token`, 'must be a string of at least 8 characters');
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s): s is Scope => SCOPES.includes(s as Scope))) {
      throw new ConfigError(`${where}.scopes`, 'must be a non-empty array of "read", "write", "admin"');
    }
    const patterns = namespaces === undefined ? ['*'] : namespaces;
    if (
      !Array.isArray(patterns) ||
      patterns.length === 0 ||
      !patterns.every((p) => typeof p === 'string' && /^([a-z0-9][a-z0-9_.-]{0,62}|[a-z0-9_.-]{0,62}\*)$/.test(p))
    ) {
      throw new ConfigError(`${where}.namespaces`, 'must be a non-empty array of namespace names, "prefix*" patterns or "*"');
    }
    return { anonymous: false, digest: digest(token), scopes: new Set(scopes), namespaces: patterns as string[] };
  });
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

/** Reads tokens from the config; refuses anonymous serving on non-loopback binds. */
export function createAuthenticator(config: Pick<Config, 'tokens' | 'tokensFile' | 'allowAnonymous' | 'host'>): Authenticator {
  let records: TokenRecord[] = [];
  if (config.tokens !== undefined) records = records.concat(parseTokenList('CACHE_TOKENS', config.tokens));
  if (config.tokensFile !== undefined) {
    let raw: string;
    try {
      raw = readFileSync(config.tokensFile, 'utf8');
    } catch (error) {
      throw new ConfigError('CACHE_TOKENS_FILE', `cannot read ${config.tokensFile}: ${(error as Error).message}`);
    }
    records = records.concat(parseTokenList('CACHE_TOKENS_FILE', raw));
  }
  if (records.length === 0) {
    if (!isLoopbackHost(config.host) && !config.allowAnonymous) {
      throw new ConfigError(
        'CACHE_TOKENS',
        `no tokens are configured and HOST=${config.host} is not a loopback address, so the API would be open to the network. ${HOW_TO}`,
      );
    }
    return { anonymous: true, authenticate: () => ANONYMOUS };
  }
  return {
    anonymous: false,
    authenticate(authorization) {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match) return undefined;
      const presented = digest(match[1] as string);
      let found: TokenRecord | undefined;
      for (const record of records) {
        // Every record is compared, match or not, so timing does not depend on position.
        if (timingSafeEqual(presented, record.digest) && found === undefined) found = record;
      }
      return found;
    },
  };
}
