import type { AdapterOptions } from '../../core/defaults.js';
import { BackendTimeoutError, BackendUnavailableError, isCacheError } from '../../core/errors.js';
import { SOCKET_ERROR_CODES } from '../../core/socket-errors.js';
import { withTimeout } from '../../core/timeout.js';
import type { Sql } from './connection.js';
import { PoolGate, type Ticket } from './pool-gate.js';

/** What every Postgres feature module (entries, rate limits, locks, ...) is built from. */
export interface PgContext {
  sql: Sql;
  options: AdapterOptions;
  /** Admission to the pool: at most poolMax calls hold connections; the rest wait, and drop out at their deadline. */
  gate: PoolGate;
  /**
   * Runs one backend call with the timeout and error mapping every call needs.
   * The call starts only once it holds a pool slot; if its time runs out first it
   * never starts. A deadlock or serialization failure is retried (bounded).
   */
  run<T>(operation: string, call: () => Promise<T>): Promise<T>;
  /**
   * As run, for a call that waits in a coalescer (whose batch takes the pool slot):
   * it gets its ticket, which is dropped at the deadline so the coalescer leaves it out.
   */
  runQueued<T>(operation: string, call: (ticket: Ticket) => Promise<T>): Promise<T>;
  /** Calls inside run() right now. */
  inFlight(): number;
}
/** postgres.js client-side connection failures. */
const CONNECTION_ERROR_CODES = new Set([
  ...SOCKET_ERROR_CODES,
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'NOT_TAGGED_CALL',
]);

/** Deadlock detected / serialization failure: the statement was rolled back, so running it again is safe. */
const RETRYABLE_CODES = new Set(['40P01', '40001']);

/** Attempts of a statement that keeps deadlocking before it is answered as unavailable (503). */
export const MAX_CONFLICT_ATTEMPTS = 3;

function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null ? String((error as { code?: unknown }).code) : '';
}

function isRetryable(error: unknown): boolean {
  return RETRYABLE_CODES.has(errorCode(error));
}

/**
 * Operations safe to send twice. After a backend restart the pool still holds
 * connections to the old server; the first statement on each fails with a
 * lost connection. A read, or a write whose second application changes
 * nothing (a session's sliding refresh, a recency touch), is sent again once
 * on a fresh connection; any other write is not (it may have been applied),
 * so it is answered 503.
 */
const RESENDABLE_OPERATIONS = new Set([
  'get',
  'getMany',
  'has',
  'ttl',
  'stats',
  'describe',
  'list',
  'load namespace config',
  'getSession',
  'sessionSubject',
  'inspectLock',
  'members',
  'count',
  'touch recency',
  'listKeys',
  'top',
  // A batch sent again sets the same rows' expiry to now() + ttl once more: nothing else changes.
  'expireMany',
  'read channel',
]);

function isLostConnection(error: unknown): boolean {
  const code = errorCode(error);
  return CONNECTION_ERROR_CODES.has(code) || code.startsWith('57P');
}

/**
 * Maps driver errors to the port's typed errors. SQLSTATE classes 08
 * (connection), 53 (resources), 57P (shutdown/crash) mean "unavailable";
 * 57014 is a statement timeout. Anything else is a bug and surfaces as is.
 */
export function mapPgError(error: unknown, operation: string, timeoutMs: number): unknown {
  if (isCacheError(error)) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
  if (code === '57014' || code === 'CONNECT_TIMEOUT') return new BackendTimeoutError(timeoutMs, operation);
  if (RETRYABLE_CODES.has(code)) {
    return new BackendUnavailableError(`postgres ${code === '40P01' ? 'deadlock' : 'serialization failure'} during ${operation}, retried`, {
      cause: error,
    });
  }
  if (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '55P03') {
    return new BackendUnavailableError(`postgres unavailable during ${operation}: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

export function createPgContext(sql: Sql, options: AdapterOptions, capacity: number): PgContext {
  let inFlight = 0;
  const gate = new PoolGate(capacity);

  /** Runs the call, again after a deadlock or serialization failure while the caller still waits. */
  async function attempt<T>(call: (ticket: Ticket) => Promise<T>, ticket: Ticket, resendable: boolean): Promise<T> {
    let reconnected = false;
    for (let n = 1; ; n++) {
      try {
        return await call(ticket);
      } catch (error) {
        if (resendable && !reconnected && !ticket.dropped && isLostConnection(error)) {
          reconnected = true;
          continue;
        }
        if (!isRetryable(error) || n >= MAX_CONFLICT_ATTEMPTS || ticket.dropped) throw error;
        // A short random pause so the two sides of a deadlock do not meet again.
        await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8 * n));
        if (ticket.dropped) throw error;
      }
    }
  }

  /** The call, started once the gate admits it; the slot is given back when the call settles, not at the deadline. */
  function admitted<T>(call: () => Promise<T>, ticket: Ticket, resendable: boolean): Promise<T> {
    const start = (): Promise<T> => {
      const running = attempt(call, ticket, resendable);
      running.then(
        () => gate.release(),
        () => gate.release(),
      );
      return running;
    };
    return gate.tryAcquire() ? start() : gate.wait(ticket).then(start);
  }

  async function bounded<T>(operation: string, work: (ticket: Ticket) => Promise<T>): Promise<T> {
    inFlight++;
    const ticket: Ticket = { dropped: false };
    try {
      return await withTimeout(work(ticket), options.timeoutMs, operation, () => {
        ticket.dropped = true;
        gate.forget(ticket);
      });
    } catch (error) {
      throw mapPgError(error, operation, options.timeoutMs);
    } finally {
      inFlight--;
    }
  }

  return {
    sql,
    options,
    gate,
    run: (operation, call) => bounded(operation, (ticket) => admitted(call, ticket, RESENDABLE_OPERATIONS.has(operation))),
    runQueued: (operation, call) => bounded(operation, (ticket) => attempt(call, ticket, RESENDABLE_OPERATIONS.has(operation))),
    inFlight: () => inFlight,
  };
}
