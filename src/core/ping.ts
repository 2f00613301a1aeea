/** The port's ping, the same on every backend: one round trip, timed and bounded. */
import { withTimeout } from './timeout.js';

/** Milliseconds `probe` took; past `timeoutMs`, or on failure, throws what `mapError` makes of the error (a typed backend error). */
export async function timedPing(probe: () => Promise<unknown>, timeoutMs: number, mapError: (error: unknown) => unknown): Promise<number> {
  const started = performance.now();
  try {
    await withTimeout(
      probe().then(() => undefined),
      timeoutMs,
      'ping',
    );
  } catch (error) {
    throw mapError(error);
  }
  return performance.now() - started;
}
