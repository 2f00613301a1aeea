import { BackendTimeoutError } from './errors.js';

/**
 * Bounds how long a caller waits for the backend. The underlying query may
 * still finish later; the caller gets a BackendTimeoutError at the deadline.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendTimeoutError(timeoutMs, operation)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
