/**
 * What every request leaves behind, whichever path answered it (the Hono app, or the lean entry read in
 * ./fast-entry-read.ts): its request id, the request metrics and one log line. One implementation, so both
 * paths count and log alike.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { httpDuration, httpRequests } from '../metrics.js';

export const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is a plausible id, else a fresh one (never echo arbitrary text into logs). */
export function chooseRequestId(incoming: string | undefined): string {
  return incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Any token is a valid method: unknown ones share one label so clients cannot grow the metrics. */
export function methodLabel(method: string): string {
  return (METHODS as readonly string[]).includes(method) ? method : 'OTHER';
}

/**
 * Counts the request and observes its duration under (method, route pattern, status), both tallied
 * (../tallied-counter.ts, ../tallied-histogram.ts). Bounded: routes and statuses are a fixed set.
 */
function recordRequest(method: string, route: string, status: number, seconds: number): void {
  const key = `${method} ${route} ${status}`;
  // Inline closures: a named one (`const labels = () => ...`) costs a __name() call per request under tsx.
  httpRequests.add(key, () => requestLabels(method, route, status));
  httpDuration.observe(key, () => requestLabels(method, route, status), seconds);
}

function requestLabels(method: string, route: string, status: number) {
  return { method, route, status: String(status) };
}

export interface FinishedRequest {
  requestId: string;
  /** The request's method as sent (labelled by methodLabel). */
  method: string;
  /** The route pattern that answered (as Hono names it), or `unmatched`. */
  route: string;
  status: number;
  /** performance.now() when the request reached the application. */
  started: number;
}

/** The request metrics and one info line per request. Never logs headers (tokens). */
export function finishRequest(logger: Logger, request: FinishedRequest): void {
  const seconds = (performance.now() - request.started) / 1000;
  const method = methodLabel(request.method);
  const { requestId, route, status } = request;
  recordRequest(method, route, status, seconds);
  logger.info({ requestId, method, route, status, durationMs: Math.round(seconds * 10_000) / 10 }, 'request');
}
