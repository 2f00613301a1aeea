import { describe, expect, it } from 'vitest';
import { BackendTimeoutError } from '../../src/core/errors.js';
import { withTimeout } from '../../src/core/timeout.js';

const never = () => new Promise<never>(() => {});
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withTimeout', () => {
  it('passes values and errors through', async () => {
    await expect(withTimeout(Promise.resolve(7), 100, 'op')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('boom')), 100, 'op')).rejects.toThrow('boom');
  });

  it('rejects with BackendTimeoutError at the deadline, not before', async () => {
    const started = performance.now();
    const error = await withTimeout(never(), 150, 'get').catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(BackendTimeoutError);
    expect((error as BackendTimeoutError).message).toContain('get');
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(2000);
  });

  it('times out only the calls that are late when many share one timeout', async () => {
    const calls = Array.from({ length: 200 }, (_, i) =>
      withTimeout(i % 2 === 0 ? after(10, i) : never(), 300, `call ${i}`).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    );
    const results = await Promise.all(calls);
    results.forEach((result, i) => {
      if (i % 2 === 0) expect(result).toEqual({ ok: true, value: i });
      else expect(result.ok === false && result.error instanceof BackendTimeoutError).toBe(true);
    });
  });

  it('keeps working after a quiet period and with different timeouts interleaved', async () => {
    await expect(withTimeout(after(5, 'a'), 200, 'x')).resolves.toBe('a');
    await after(50, null);
    const [short, long] = await Promise.allSettled([withTimeout(never(), 50, 's'), withTimeout(after(120, 'b'), 500, 'l')]);
    expect(short.status).toBe('rejected');
    expect(long).toEqual({ status: 'fulfilled', value: 'b' });
    await expect(withTimeout(never(), 60, 'again')).rejects.toBeInstanceOf(BackendTimeoutError);
  });

  it('calls onExpire at the deadline only, so queued work can be dropped', async () => {
    let expired = 0;
    const late = withTimeout(never(), 50, 'late', () => {
      expired++;
    }).catch((e: unknown) => e);
    await expect(
      withTimeout(Promise.resolve(1), 50, 'fast', () => {
        expired += 100;
      }),
    ).resolves.toBe(1);
    expect(await late).toBeInstanceOf(BackendTimeoutError);
    await after(100, null);
    expect(expired).toBe(1);
  });
});
