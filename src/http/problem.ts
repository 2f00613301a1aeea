/**
 * RFC 9457 problem details. Every error response of the API is
 * `application/problem+json` `{ type, title, status, detail }`, plus
 * `invalid-params` for validation errors. Route code throws (HttpProblem or a
 * typed port error); the app's onError turns it into a response here.
 */
import type { ServerResponse } from 'node:http';
import { HTTPException } from 'hono/http-exception';
import {
  BackendTimeoutError,
  BackendUnavailableError,
  IntegerOverflowError,
  LimitExceededError,
  NotAnIntegerError,
  ValidationError,
  type InvalidParam,
} from '../core/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  'invalid-params'?: InvalidParam[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Problem types are stable URNs so clients can branch on them. */
export function problemType(slug: string): string {
  return `urn:cacheport:problem:${slug}`;
}

/** Throw this from a route for any non-2xx answer that is not a port error. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
    readonly invalidParams?: InvalidParam[],
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }

  toBody(): ProblemBody {
    const body: ProblemBody = {
      type: problemType(this.slug),
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.detail,
    };
    if (this.invalidParams) body['invalid-params'] = this.invalidParams;
    return body;
  }
}

/** The client went away before its request completed (nginx's 499; logged and counted, never sent). */
export function clientClosed(): HttpProblem {
  return new HttpProblem(499, 'client-closed-request', 'the client closed the connection before the request completed');
}

/** A 400 naming the offending field, same shape as a port ValidationError. */
export function invalidParam(name: string, reason: string): HttpProblem {
  return validationProblem([{ name, reason }]);
}

export function validationProblem(params: InvalidParam[]): HttpProblem {
  const detail = params.map((p) => `${p.name}: ${p.reason}`).join('; ');
  return new HttpProblem(400, 'validation', detail, {}, params);
}

export function problemResponse(problem: HttpProblem): Response {
  const headers = new Headers({ 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers });
  return new Response(JSON.stringify(problem.toBody()), { status: problem.status, headers });
}

/**
 * Writes the problem on a Node response, as @hono/node-server writes problemResponse(): the header names
 * lower-cased and sorted (a WHATWG Headers iterates so), then Content-Length; to a HEAD request the same
 * headers without Content-Length and no body (Hono answers HEAD with a body-less copy of the GET's response).
 */
export function writeProblem(outgoing: ServerResponse, problem: HttpProblem, head: boolean): void {
  const headers: Record<string, string | number> = {};
  for (const [name, value] of new Headers({ 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers })) headers[name] = value;
  if (head) {
    outgoing.writeHead(problem.status, headers);
    outgoing.end();
    return;
  }
  const body = JSON.stringify(problem.toBody());
  headers['Content-Length'] = Buffer.byteLength(body);
  outgoing.writeHead(problem.status, headers);
  outgoing.end(body);
}

/**
 * Maps anything thrown to a problem, or undefined for a bug (→ 500 by the
 * caller, which logs the stack). The port's typed errors map as:
 * ValidationError 400, LimitExceededError 413, NotAnInteger/IntegerOverflow
 * 409, BackendUnavailable/BackendTimeout 503.
 */
export function toProblem(error: unknown): HttpProblem | undefined {
  if (error instanceof HttpProblem) return error;
  if (error instanceof ValidationError) return validationProblem(error.invalidParams);
  if (error instanceof LimitExceededError) {
    return new HttpProblem(413, 'limit-exceeded', `${error.field} is ${error.actual}; the limit is ${error.limit} (inclusive)`);
  }
  if (error instanceof NotAnIntegerError) return new HttpProblem(409, 'not-an-integer', error.message);
  if (error instanceof IntegerOverflowError) return new HttpProblem(409, 'integer-overflow', error.message);
  if (error instanceof BackendTimeoutError)
    return new HttpProblem(503, 'backend-timeout', `the backend did not answer within ${error.timeoutMs} ms`);
  if (error instanceof BackendUnavailableError)
    return new HttpProblem(503, 'backend-unavailable', 'the backend is unavailable; retry later');
  if (error instanceof HTTPException) return fromHttpException(error);
  return undefined;
}

function fromHttpException(error: HTTPException): HttpProblem {
  const status = error.status;
  if (status === 415)
    return new HttpProblem(415, 'unsupported-media-type', 'this route takes a JSON body: send Content-Type: application/json');
  if (status === 413) return new HttpProblem(413, 'body-too-large', error.message || 'the request body is too large');
  if (status === 400 && /json/i.test(error.message)) return new HttpProblem(400, 'malformed-json', 'the request body is not valid JSON');
  return new HttpProblem(status, 'http-error', error.message || TITLES[status] || 'error');
}
