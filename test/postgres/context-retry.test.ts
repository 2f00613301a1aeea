/**
 * The Postgres context's retry policy, without a database: a read whose
 * connection was lost (a pool connection to a server that restarted) is sent
 * once more; a write is never sent twice (it may have been applied), it is
 * answered as unavailable.
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from '../../src/adapters/postgres/connection.js';
import { createPgContext } from '../../src/adapters/postgres/context.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';

const lostConnection = (): Error => Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });

/** A call that fails with a lost connection the first `failures` times, then answers 42. */
function flaky(failures: number) {
  let calls = 0;
  return {
    calls: () => calls,
    call: async (): Promise<number> => {
      calls++;
      if (calls <= failures) throw lostConnection();
      return 42;
    },
  };
}

// The calls below never touch the client: the context only schedules them.
const ctx = createPgContext({} as Sql, { ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 1000 }, 2);

describe('Postgres context: lost connections', () => {
  it('sends a read once more after a lost connection', async () => {
    const get = flaky(1);
    await expect(ctx.run('get', get.call)).resolves.toBe(42);
    expect(get.calls()).toBe(2);
    const queued = flaky(1);
    await expect(ctx.runQueued('get', queued.call)).resolves.toBe(42);
    expect(queued.calls()).toBe(2);
  });

  it('sends a write that is safe to repeat once more (a session read refreshes its expiry)', async () => {
    for (const operation of ['getSession', 'expireMany']) {
      const write = flaky(1);
      await expect(ctx.run(operation, write.call)).resolves.toBe(42);
      expect(write.calls()).toBe(2);
    }
  });

  it('sends a read at most twice: a second lost connection is unavailable', async () => {
    const get = flaky(2);
    await expect(ctx.run('get', get.call)).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(get.calls()).toBe(2);
  });

  it('never sends a write twice', async () => {
    // A recency touch adds read counts: sent twice, it would count them twice.
    for (const operation of ['set', 'increment', 'delete', 'touch recency']) {
      const write = flaky(1);
      await expect(ctx.run(operation, write.call)).rejects.toBeInstanceOf(BackendUnavailableError);
      expect(write.calls()).toBe(1);
    }
  });
});
