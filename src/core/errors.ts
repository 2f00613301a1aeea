/**
 * Typed errors of the port. Every adapter throws only these (or lets a bug
 * surface as a plain Error), so callers can tell "you asked wrong" from
 * "the backend is unavailable" without parsing driver messages.
 */

export type CacheErrorCode =
  | 'validation'
  | 'limit_exceeded'
  | 'not_integer'
  | 'overflow'
  | 'backend_unavailable'
  | 'backend_timeout'
  | 'lock_not_acquired'
  | 'unauthorized'
  | 'forbidden';

export interface InvalidParam {
  /** The offending field, e.g. `key`, `ttl`, `ops[3].ns`. */
  name: string;
  reason: string;
}

export abstract class CacheError extends Error {
  abstract readonly code: CacheErrorCode;
}

/** The request was wrong; nothing was sent to the backend and nothing changed. */
export class ValidationError extends CacheError {
  readonly code = 'validation';
  readonly invalidParams: InvalidParam[];
  constructor(invalidParams: InvalidParam[] | InvalidParam) {
    const params = Array.isArray(invalidParams) ? invalidParams : [invalidParams];
    super(params.map((p) => `${p.name}: ${p.reason}`).join('; '));
    this.name = 'ValidationError';
    this.invalidParams = params;
  }
}

/** A size or count limit was exceeded (value bytes, batch size, session data). */
export class LimitExceededError extends CacheError {
  readonly code = 'limit_exceeded';
  constructor(
    readonly field: string,
    readonly limit: number,
    readonly actual: number,
  ) {
    super(`${field} is ${actual} bytes/items; the limit is ${limit}`);
    this.name = 'LimitExceededError';
  }
}

/** increment() on an entry whose value is not a 64-bit decimal integer. */
export class NotAnIntegerError extends CacheError {
  readonly code = 'not_integer';
  constructor(readonly key: string) {
    super(`the value at key ${JSON.stringify(key)} is not a 64-bit integer`);
    this.name = 'NotAnIntegerError';
  }
}

/** increment() would leave the signed 64-bit range. */
export class IntegerOverflowError extends CacheError {
  readonly code = 'overflow';
  constructor(readonly key: string) {
    super(`incrementing key ${JSON.stringify(key)} would overflow a signed 64-bit integer`);
    this.name = 'IntegerOverflowError';
  }
}

/** The backend refused the connection, dropped it, or is otherwise unreachable. */
export class BackendUnavailableError extends CacheError {
  readonly code: 'backend_unavailable' | 'backend_timeout' = 'backend_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendUnavailableError';
  }
}

/** The backend did not answer within the configured timeout. A kind of unavailability. */
export class BackendTimeoutError extends BackendUnavailableError {
  override readonly code = 'backend_timeout';
  constructor(
    readonly timeoutMs: number,
    operation: string,
  ) {
    super(`backend did not answer ${operation} within ${timeoutMs} ms`);
    this.name = 'BackendTimeoutError';
  }
}

/** withLock(): the lock is held by someone else (library helper, not a port call). */
export class LockNotAcquiredError extends CacheError {
  readonly code = 'lock_not_acquired';
  constructor(readonly lockName: string) {
    super(`lock ${JSON.stringify(lockName)} is held by someone else`);
    this.name = 'LockNotAcquiredError';
  }
}

/**
 * HTTP adapter: the cacheport server refused the token (401: missing or
 * unknown → `unauthorized`; 403: valid but without the scope or namespace →
 * `forbidden`). Nothing was done.
 */
export class AuthorizationError extends CacheError {
  readonly code: 'unauthorized' | 'forbidden';
  constructor(
    readonly status: 401 | 403,
    detail: string,
  ) {
    super(status === 401 ? `the server did not accept the token: ${detail}` : `the token may not do this: ${detail}`);
    this.name = 'AuthorizationError';
    this.code = status === 401 ? 'unauthorized' : 'forbidden';
  }
}

export function isCacheError(error: unknown): error is CacheError {
  return error instanceof CacheError;
}
