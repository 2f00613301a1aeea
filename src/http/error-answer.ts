/**
 * The answer to a request whose handling threw, for the Hono app's onError and the lean entry read
 * (./fast-entry-read.ts) alike: 499 when the client already went away, the mapped problem (counting backend
 * failures), or a logged 500 for a bug.
 */
import type { Logger } from 'pino';
import { backendErrors } from '../metrics.js';
import { clientClosed, HttpProblem, toProblem } from './problem.js';

export function problemForError(error: unknown, logger: Logger, requestId: string, clientGone: boolean): HttpProblem {
  // Whatever failed, nobody is listening: record 499, log no error.
  if (clientGone) return clientClosed();
  const problem = toProblem(error);
  if (problem) {
    if (problem.status === 503) backendErrors.inc({ kind: problem.slug === 'backend-timeout' ? 'timeout' : 'unavailable' });
    return problem;
  }
  logger.error({ err: error, requestId }, 'unhandled error');
  return new HttpProblem(500, 'internal', `an internal error occurred (request id ${requestId})`);
}
