import type { AdapterOptions } from '../../core/defaults.js';
import { BackendTimeoutError, BackendUnavailableError, isCacheError } from '../../core/errors.js';
import { withTimeout } from '../../core/timeout.js';
import type { Sql } from './connection.js';

/** What every Postgres feature module (entries, rate limits, locks, ...) is built from. */
export interface PgContext {
  sql: Sql;
  options: AdapterOptions;
  /** Runs one backend call with the timeout and error mapping every call needs. */
  run<T>(operation: string, call: () => Promise<T>): Promise<T>;
  /** Calls inside run() right now. */
  inFlight(): number;
}

/** postgres.js client-side connection failures. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'NOT_TAGGED_CALL',
]);

/**
 * Maps driver errors to the port's typed errors. SQLSTATE classes 08
 * (connection), 53 (resources), 57P (shutdown/crash) mean "unavailable";
 * 57014 is a statement timeout. Anything else is a bug and surfaces as is.
 */
export function mapPgError(error: unknown, operation: string, timeoutMs: number): unknown {
  if (isCacheError(error)) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  if (code === '57014' || code === 'CONNECT_TIMEOUT') return new BackendTimeoutError(timeoutMs, operation);
  if (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '55P03') {
    return new BackendUnavailableError(`postgres unavailable during ${operation}: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

export function createPgContext(sql: Sql, options: AdapterOptions): PgContext {
  let inFlight = 0;
  return {
    sql,
    options,
    async run(operation, call) {
      inFlight++;
      try {
        return await withTimeout(call(), options.timeoutMs, operation);
      } catch (error) {
        throw mapPgError(error, operation, options.timeoutMs);
      } finally {
        inFlight--;
      }
    },
    inFlight: () => inFlight,
  };
}
