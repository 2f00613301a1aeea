/**
 * The real services the suite runs against. A missing service is a failure,
 * never a skip: the first connection attempt throws with a clear message.
 */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Unique, valid per-run names so parallel test files never share state. */
export function uniqueName(kind: string): string {
  return `${kind}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
