/**
 * problem+json answers of the server → the port's typed errors, so a caller of
 * the HTTP adapter branches exactly as with Postgres or Redis: 400 →
 * ValidationError (with the server's invalid-params), 413 → LimitExceededError,
 * 409 not-an-integer / integer-overflow → NotAnIntegerError / IntegerOverflowError,
 * 503 → BackendTimeoutError / BackendUnavailableError, 401/403 → AuthorizationError.
 * Statuses a route gives a meaning of its own (404 miss, 409 lock held, 412)
 * are handled by that route's module before they get here.
 */
import type { IncomingMessage } from 'node:http';
import {
  AuthorizationError,
  BackendTimeoutError,
  BackendUnavailableError,
  IntegerOverflowError,
  LimitExceededError,
  NotAnIntegerError,
  ValidationError,
  type InvalidParam,
} from '../../core/errors.js';

export interface Problem {
  type: string;
  status: number;
  detail: string;
  'invalid-params'?: InvalidParam[];
}

const SLUG = /^urn:cacheport:problem:(.+)$/;

/** The problem body of an answer, or a synthetic one when the server sent something else. */
export function readProblem(answer: { status: number; headers: IncomingMessage['headers']; body: Buffer }): Problem {
  const text = answer.body.toString('utf8');
  if (/json/.test(answer.headers['content-type'] ?? '')) {
    try {
      const parsed = JSON.parse(text) as Partial<Problem>;
      if (typeof parsed === 'object' && parsed !== null)
        return {
          type: typeof parsed.type === 'string' ? parsed.type : '',
          status: answer.status,
          detail: typeof parsed.detail === 'string' ? parsed.detail : text,
          ...(Array.isArray(parsed['invalid-params']) ? { 'invalid-params': parsed['invalid-params'] } : {}),
        };
    } catch {
      // Not JSON after all: fall through to the text.
    }
  }
  return { type: '', status: answer.status, detail: text.slice(0, 500) || `HTTP ${answer.status}` };
}

export function problemSlug(problem: Problem): string {
  return SLUG.exec(problem.type)?.[1] ?? '';
}

/** `detail` of a limit problem is `<field> is <actual>; the limit is <limit> …` (src/http/problem.ts). */
function limitError(detail: string): LimitExceededError {
  const match = /^(\S+) is (\d+)(?: bytes\/items)?; the limit is (\d+)/.exec(detail);
  if (match) return new LimitExceededError(match[1] as string, Number(match[3]), Number(match[2]));
  return new LimitExceededError('request', 0, 0);
}

/** The typed error for a non-2xx answer that the route did not handle itself. */
export function problemError(
  answer: { status: number; headers: IncomingMessage['headers']; body: Buffer },
  operation: string,
  key = '',
): Error {
  const problem = readProblem(answer);
  const slug = problemSlug(problem);
  switch (answer.status) {
    case 400: {
      const params = problem['invalid-params'];
      return new ValidationError(params && params.length > 0 ? params : [{ name: 'request', reason: problem.detail }]);
    }
    case 401:
    case 403:
      return new AuthorizationError(answer.status, problem.detail);
    case 413:
      return limitError(problem.detail);
    case 409:
      if (slug === 'integer-overflow') return new IntegerOverflowError(key);
      if (slug === 'not-an-integer') return new NotAnIntegerError(key);
      break;
    case 503: {
      if (slug === 'backend-timeout') {
        const ms = /within (\d+) ms/.exec(problem.detail);
        return new BackendTimeoutError(ms ? Number(ms[1]) : 0, operation);
      }
      return new BackendUnavailableError(`the cacheport server answered 503 (${operation}): ${problem.detail}`);
    }
  }
  if (answer.status >= 500)
    return new BackendUnavailableError(`the cacheport server answered ${answer.status} (${operation}): ${problem.detail}`);
  return new Error(`unexpected answer ${answer.status} from the cacheport server (${operation}): ${problem.detail}`);
}
