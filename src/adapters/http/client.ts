/**
 * The HTTP adapter's connection to a cacheport server: node:http(s) with a
 * keep-alive Agent (at most `poolMax` calls at once, so calls beyond queue
 * for a socket instead of opening more), every call bounded by `timeoutMs`, and
 * problem+json answers turned back into the port's typed errors.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { BackendTimeoutError, BackendUnavailableError } from '../../core/errors.js';
import { problemError } from './problems.js';

/** Header bytes accepted in an answer: 64 tags × 256 bytes, percent-encoded (×3), with room for the rest. */
const MAX_ANSWER_HEADER_BYTES = 128 * 1024;

/** Longest a pooled socket stays idle (shortened by the server's Keep-Alive hint, 5 s on a Node server). */
const IDLE_SOCKET_MS = 30_000;

export interface HttpClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  url: string;
  token?: string;
  poolMax: number;
  timeoutMs: number;
  /** SSE streams silent (no event, no keepalive) this long are taken as lost (default SSE_IDLE_TIMEOUT_MS, 60 s). */
  streamIdleTimeoutMs?: number;
}

export interface HttpCall {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Already percent-encoded, starting with `/`. */
  path: string;
  query?: Record<string, string | readonly string[] | undefined>;
  headers?: OutgoingHttpHeaders;
  /** A Buffer is sent as is; anything else as JSON. */
  body?: Buffer | unknown;
  /** Statuses the caller handles itself; any other non-2xx becomes a typed error. */
  expect?: readonly number[];
  /** For error messages, e.g. `get`. */
  operation: string;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** An answer's JSON object; anything else (an HTML page of a proxy, say) means this is no cacheport server answering. */
export function jsonObject(text: string, operation: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new BackendUnavailableError(
      `the server's answer to ${operation} is not a cacheport answer: ${JSON.stringify(text.slice(0, 200))}`,
    );
  return parsed as Record<string, unknown>;
}

/** One call in the client's queue: started when a socket is free, aborted on timeout or close. */
interface Exchange {
  start(): void;
  abort(error: Error): void;
}

export class HttpClient {
  readonly agent: HttpAgent;
  private readonly base: URL;
  private readonly send: typeof httpRequest;
  private pending = 0;
  /**
   * Calls waiting for one of the poolMax sockets. They wait here, not in the Agent's queue: a request queued in
   * the Agent cannot be withdrawn, so it would still be sent (on a new socket) after close().
   */
  private readonly queue: Exchange[] = [];
  private readonly running = new Set<Exchange>();
  /** After close(): every call fails as unavailable. */
  closed = false;

  constructor(private readonly options: HttpClientOptions) {
    this.base = new URL(options.url);
    const secure = this.base.protocol === 'https:';
    // `timeout` bounds how long an idle socket is kept; Node then also honours the server's `Keep-Alive: timeout=`
    // hint (minus a second), so an idle socket is dropped before the server closes it and a call never lands on a
    // socket being closed (ECONNRESET). It is not a request deadline: call() has its own timer.
    const agentOptions = { keepAlive: true, maxSockets: options.poolMax, maxFreeSockets: options.poolMax, timeout: IDLE_SOCKET_MS };
    this.agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = secure ? httpsRequest : httpRequest;
    // A socket whose answer ended just before close() comes back to the Agent a tick later: do not keep it.
    this.agent.on('free', (socket: Socket) => {
      if (this.closed) socket.destroy();
    });
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  get streamIdleTimeoutMs(): number | undefined {
    return this.options.streamIdleTimeoutMs;
  }

  /** Calls started and not yet answered. */
  inFlight(): number {
    return this.pending;
  }

  /** The full request target for `path` and `query` (for streams opened elsewhere). */
  target(path: string, query?: HttpCall['query']): URL {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const one of typeof value === 'string' ? [value] : value) url.searchParams.append(name, one);
    }
    return url;
  }

  authorization(): OutgoingHttpHeaders {
    return this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` };
  }

  /** One request; resolves with the answer for 2xx and `expect`ed statuses, else throws the typed error. */
  async call(call: HttpCall): Promise<HttpAnswer> {
    if (this.closed) throw new BackendUnavailableError(`the port is closed (${call.operation})`);
    this.pending++;
    try {
      const answer = await this.exchange(call);
      if ((answer.status >= 200 && answer.status < 300) || call.expect?.includes(answer.status)) return answer;
      throw problemError(answer, call.operation);
    } finally {
      this.pending--;
    }
  }

  /** `call` whose answer is a JSON object (a 404 or other `expect`ed status may have an empty body). */
  async json<T>(call: HttpCall): Promise<{ status: number; body: T; headers: IncomingMessage['headers'] }> {
    const answer = await this.call(call);
    const text = answer.body.toString('utf8');
    return { status: answer.status, headers: answer.headers, body: (text === '' ? undefined : jsonObject(text, call.operation)) as T };
  }

  private exchange(call: HttpCall): Promise<HttpAnswer> {
    const url = this.target(call.path, call.query);
    let payload: Buffer | undefined;
    const headers: OutgoingHttpHeaders = { ...this.authorization(), ...call.headers };
    if (Buffer.isBuffer(call.body)) payload = call.body;
    else if (call.body !== undefined) {
      payload = Buffer.from(JSON.stringify(call.body));
      headers['content-type'] = 'application/json';
    }
    if (payload !== undefined) headers['content-length'] = String(payload.byteLength);
    const timeoutMs = this.options.timeoutMs;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let req: ClientRequest | undefined;
      /** Settles once: frees the call's place (queued or running) and lets the next queued call start. */
      const settle = (outcome: () => void): void => {
        if (!this.running.delete(exchange)) {
          const queued = this.queue.indexOf(exchange);
          if (queued === -1) return;
          this.queue.splice(queued, 1);
        }
        clearTimeout(timer);
        outcome();
        // After the socket went back to the Agent (it is freed on a later tick than the answer's end).
        setImmediate(() => this.startQueued());
      };
      const unreachable = (error: Error): void =>
        settle(() =>
          reject(new BackendUnavailableError(`cacheport server unreachable (${call.operation}): ${error.message}`, { cause: error })),
        );
      const exchange: Exchange = {
        start: () => {
          this.running.add(exchange);
          // Answers may carry long headers (an entry's Cache-Tag with 64 tags of 256 bytes); Node's default is 16 KiB.
          req = this.send(url, { method: call.method, headers, agent: this.agent, maxHeaderSize: MAX_ANSWER_HEADER_BYTES }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => settle(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })));
            res.on('error', unreachable);
          });
          req.on('error', unreachable);
          req.end(payload);
        },
        abort: (error) => {
          settle(() => reject(error));
          req?.destroy();
        },
      };
      // A call waiting for a socket counts against the same deadline: the caller is told at timeoutMs.
      const timer = setTimeout(() => exchange.abort(new BackendTimeoutError(timeoutMs, call.operation)), timeoutMs);
      this.queue.push(exchange);
      this.startQueued();
    });
  }

  /** Starts queued calls while fewer than poolMax run. */
  private startQueued(): void {
    while (!this.closed && this.running.size < this.options.poolMax && this.queue.length > 0) {
      const next = this.queue.shift() as Exchange;
      try {
        next.start();
      } catch (error) {
        // node:http refuses some requests synchronously (e.g. a token with characters a header cannot hold).
        next.abort(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** Fails every call still running or waiting for a socket at once, then closes the sockets. */
  close(): void {
    this.closed = true;
    for (const exchange of [...this.queue, ...this.running])
      exchange.abort(new BackendUnavailableError('the port was closed during the call'));
    this.agent.destroy();
  }
}
