/**
 * What every contract module gets: the port under test, fresh namespaces and
 * the few assertion helpers the rules need. Only the port API is used, so the
 * same checks run unchanged against every adapter.
 */
import { expect } from 'vitest';
import type { CachePort, CacheEntry } from '../../src/core/port.js';
import { ValidationError } from '../../src/core/errors.js';
import type { AdapterName, BackendFactory } from '../support/backends.js';

export interface ContractContext {
  factory: BackendFactory<AdapterName>;
  /** The port of the enclosing suite (created in beforeAll). */
  port(): CachePort;
  /** A namespace no other test uses. */
  ns(): string;
}

/** Short ttls for expiry rules; waits are generous because the machine is shared and loaded. */
export const SHORT_TTL = 150;
export const EXPIRY_WAIT = 700;
/** A ttl no test outlives. */
export const LONG_TTL = 10 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let namespaceCounter = 0;

/** Valid (`^[a-z0-9][a-z0-9_.-]{0,62}$`) and unique within the process. */
export function uniqueNamespace(): string {
  namespaceCounter += 1;
  return `t${namespaceCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs `call` (which may throw synchronously or reject) and returns what it threw. */
export async function caught(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * Asserts a typed validation error with at least one invalid param; when
 * `field` is given, one param's name must match it (adapters may qualify
 * names, e.g. `items[1].key`, so it is a pattern).
 */
export async function expectValidationError(call: () => unknown, field?: RegExp): Promise<ValidationError> {
  const error = await caught(call);
  expect(error, 'expected a ValidationError').toBeInstanceOf(ValidationError);
  const validation = error as ValidationError;
  expect(validation.invalidParams.length).toBeGreaterThan(0);
  for (const param of validation.invalidParams) {
    expect(typeof param.name).toBe('string');
    expect(typeof param.reason).toBe('string');
  }
  if (field) {
    const names = validation.invalidParams.map((p) => p.name);
    expect(
      names.some((name) => field.test(name)),
      `invalidParams ${JSON.stringify(names)} should name ${field}`,
    ).toBe(true);
  }
  return validation;
}

/** Asserts that `call` throws an instance of `type` and returns it. */
export async function expectThrown<T>(call: () => unknown, type: abstract new (...args: never[]) => T): Promise<T> {
  const error = await caught(call);
  expect(error, `expected a ${type.name}`).toBeInstanceOf(type);
  return error as T;
}

/** Polls `read` until `done` holds or `timeoutMs` passes; returns the last value read. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(100);
    value = await read();
  }
  return value;
}

/** The value of an entry as UTF-8 text (undefined when absent). */
export function text(entry: CacheEntry | undefined): string | undefined {
  return entry === undefined ? undefined : entry.value.toString('utf8');
}

/** Asserts a live entry and returns it. */
export function present(entry: CacheEntry | undefined): CacheEntry {
  expect(entry, 'expected a live entry').toBeDefined();
  return entry as CacheEntry;
}

/** Asserts a write happened and returns its etag. */
export function writtenEtag(result: { written: boolean; etag?: string }): string {
  expect(result.written, 'expected the write to happen').toBe(true);
  expect(typeof result.etag).toBe('string');
  expect((result.etag as string).length).toBeGreaterThan(0);
  return result.etag as string;
}

/**
 * Asserts `actual` is the same entry as `before`: identical value, content
 * type, ETag and tags, and the same expiry. An adapter may derive expiresAt
 * from the remaining ttl at read time (Redis PTTL), so it may drift by a few
 * ms between reads; any real change of ttl moves it by far more than 1 s.
 */
export function expectSameEntry(actual: CacheEntry | undefined, before: CacheEntry, label = 'entry'): void {
  const entry = present(actual);
  expect({ ...entry, expiresAt: null }, label).toEqual({ ...before, expiresAt: null });
  if (before.expiresAt === null) {
    expect(entry.expiresAt, `${label}: expiresAt`).toBeNull();
  } else {
    expect(entry.expiresAt, `${label}: expiresAt`).not.toBeNull();
    expect(Math.abs((entry.expiresAt as number) - before.expiresAt), `${label}: expiresAt drift`).toBeLessThan(1000);
  }
}
