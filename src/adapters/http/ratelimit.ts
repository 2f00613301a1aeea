/** Rate limits over POST /v1/ratelimit: 200 allowed, 429 denied, both with the result. */
import { BackendUnavailableError } from '../../core/errors.js';
import { prepareRateLimit } from '../../core/rate-limit.js';
import type { RateLimiter, RateLimitOptions, RateLimitResult } from '../../core/port.js';
import type { HttpClient } from './client.js';
import { duration } from './wire.js';

export function createHttpRateLimiter(client: HttpClient): RateLimiter {
  async function rateLimit(key: string, options: RateLimitOptions): Promise<RateLimitResult> {
    const request = prepareRateLimit(key, options);
    const { body } = await client.json<RateLimitResult & { degraded?: boolean }>({
      method: 'POST',
      path: '/v1/ratelimit',
      body: { key, limit: request.limit, window: duration(request.windowMs), cost: request.cost, algorithm: request.algorithm },
      expect: [429],
      operation: 'rateLimit',
    });
    // The server's fail-open answer: the backend was not asked. The port reports that as unavailability (callers choose their policy).
    if (body.degraded)
      throw new BackendUnavailableError('the cacheport server could not reach its backend (rate limit answered fail-open)');
    const { allowed, limit, remaining, resetMs, retryAfterMs } = body;
    return { allowed, limit, remaining, resetMs, retryAfterMs };
  }
  return { rateLimit };
}
