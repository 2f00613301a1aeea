/**
 * The lean path for the hottest route: GET and HEAD of /v1/cache/{ns}/{key}, answered on the Node request
 * and response directly, without Hono's routing and @hono/node-server's Request/Response adaptation (a
 * profile of a local-cache hit put most of cacheport's own share of the CPU there; docs/performance.md).
 *
 * It takes only the plain common case and declines everything else, having read and written nothing, so the
 * Hono app answers it as before. Taken: GET or HEAD; the path /v1/cache/{ns}/{key} with no query and only
 * characters that need no decoding and cannot make an empty, `.` or `..` segment; a Host the Node server
 * adapter accepts as is; no request body; a token that may read the namespace; a well-formed If-None-Match
 * (if any); a valid namespace and key; CORS off (its middleware adds headers to every answer). Declined, to
 * Hono: everything else, including every 400, 401 and 403 (so their answers stay the app's own).
 *
 * What it does is what the route does, with the same functions: request id, lookup and its metric, 404,
 * headers and 304 (./entry-read.ts), errors (./error-answer.ts, ./problem.ts writeProblem), request metrics
 * and log line under the route's own label (./request-record.ts). test/http/fast-path.test.ts compares
 * both paths' answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateNamespace } from '../core/validation.js';
import { allowsNamespace, hasScope, type Authenticator } from './auth.js';
import { ENTRY_ROUTE, entryAnswer, entryBody, readEntry } from './entry-read.js';
import type { AppDeps } from './env.js';
import { problemForError } from './error-answer.js';
import { parseEtagList } from './fields.js';
import { validateHttpKey } from './path-key.js';
import { type HttpProblem, writeProblem } from './problem.js';
import { chooseRequestId, finishRequest } from './request-record.js';

/** Answers the request and returns true, or returns false having touched nothing. */
export type FastPath = (incoming: IncomingMessage, outgoing: ServerResponse) => boolean;

const PREFIX = '/v1/cache/';
/**
 * Namespace and key segments: unreserved URL characters and `:`, not starting with `.` (so no `.`/`..` segment),
 * none empty. No `%`: such a path reads the same as the Hono route reads it (path-key.ts decodes once).
 */
const PLAIN_PATH = /^[A-Za-z0-9_~:-][A-Za-z0-9._~:-]*(?:\/[A-Za-z0-9_~:-][A-Za-z0-9._~:-]*)+$/;
/** The Host values @hono/node-server takes without parsing a URL (its reValidHost): any other may be its 400. */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/** The request headers the entry GET reads; any of them twice (Hono would see them joined) → declined. */
interface ReadHeaders {
  host?: string;
  authorization?: string;
  requestId?: string;
  ifNoneMatch?: string;
}

/** Undefined when CORS is on: the lean path never answers then. */
export function fastEntryRead(deps: AppDeps): FastPath | undefined {
  if (deps.config.corsOrigins !== undefined) return undefined;
  return (incoming, outgoing) => {
    const started = performance.now();
    const request = plainEntryRead(deps.auth, incoming.method, incoming.url, incoming.rawHeaders);
    if (request === undefined) return false;
    const requestId = chooseRequestId(request.requestIdHeader);
    outgoing.setHeader('x-request-id', requestId);
    answer(deps, incoming, outgoing, request, requestId).then(
      (status) => finishRequest(deps.logger, { requestId, method: request.method, route: ENTRY_ROUTE, status, started }),
      (error: unknown) => {
        // Only a throwing write gets here (the read's errors are answered): nothing sensible is left to send.
        deps.logger.error({ err: error, requestId }, 'unhandled error');
        outgoing.destroy();
      },
    );
    return true;
  };
}

/** A request the lean path takes. */
export interface PlainEntryRead {
  method: 'GET' | 'HEAD';
  ns: string;
  key: string;
  ifNoneMatch: string | undefined;
  requestIdHeader: string | undefined;
}

/** The request when the lean path takes it (see the module comment), else undefined. */
export function plainEntryRead(
  auth: Authenticator,
  method: string | undefined,
  url: string | undefined,
  rawHeaders: readonly string[],
): PlainEntryRead | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (url === undefined || !url.startsWith(PREFIX)) return undefined;
  const rest = url.slice(PREFIX.length);
  if (!PLAIN_PATH.test(rest)) return undefined;
  const slash = rest.indexOf('/');
  const ns = rest.slice(0, slash);
  const key = rest.slice(slash + 1);
  const headers = readHeaders(rawHeaders);
  if (headers === undefined || headers.host === undefined || !PLAIN_HOST.test(headers.host)) return undefined;
  const principal = auth.authenticate(headers.authorization);
  if (principal === undefined || !hasScope(principal, 'read') || !allowsNamespace(principal, ns)) return undefined;
  if (!isValid(() => validateNamespace(ns)) || !isValid(() => validateHttpKey(key))) return undefined;
  const ifNoneMatch = headers.ifNoneMatch;
  if (ifNoneMatch !== undefined && !isValid(() => parseEtagList(ifNoneMatch, 'If-None-Match'))) return undefined;
  return { method, ns, key, ifNoneMatch, requestIdHeader: headers.requestId };
}

/** Reads and writes the answer; resolves to its status. */
async function answer(
  deps: AppDeps,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  request: PlainEntryRead,
  requestId: string,
): Promise<number> {
  const head = request.method === 'HEAD';
  let problem: HttpProblem;
  try {
    const entry = await readEntry(deps, request.ns, request.key);
    const { notModified, headers } = entryAnswer(entry, request.ifNoneMatch);
    const status = notModified ? 304 : 200;
    outgoing.writeHead(status, headers);
    if (notModified || head) outgoing.end();
    else outgoing.end(entryBody(entry));
    return status;
  } catch (error) {
    if (outgoing.headersSent) throw error;
    problem = problemForError(error, deps.logger, requestId, clientGone(incoming, outgoing));
  }
  writeProblem(outgoing, problem, head);
  return problem.status;
}

/** As the app's clientWentAway: the connection closed before the answer was finished (@hono/node-server aborts the request's signal then). */
function clientGone(incoming: IncomingMessage, outgoing: ServerResponse): boolean {
  return (outgoing.destroyed && !outgoing.writableFinished) || (incoming.destroyed && !incoming.complete);
}

/** The headers the route reads, from the raw list (Node's `headers` would keep only the first of a repeated Authorization). */
function readHeaders(raw: readonly string[]): ReadHeaders | undefined {
  const found: ReadHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    let field: keyof ReadHeaders;
    if (name === 'host') field = 'host';
    else if (name === 'authorization') field = 'authorization';
    else if (name === 'x-request-id') field = 'requestId';
    else if (name === 'if-none-match') field = 'ifNoneMatch';
    // A GET with a body: Hono ignores it too, but leave such rarities to it.
    else if (name === 'transfer-encoding' || (name === 'content-length' && value !== '0')) return undefined;
    else continue;
    if (found[field] !== undefined) return undefined;
    found[field] = value;
  }
  return found;
}

/** False when `check` throws (a validation failure the app answers itself). */
function isValid(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
