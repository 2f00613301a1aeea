/**
 * A Server-Sent Events stream from the cacheport server: opened with its own
 * socket (never one of the request pool's, which it would hold for good),
 * resolved once the server answered 200, then every event is handed to
 * `onEvent` until the stream ends or `close()` is called.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BackendTimeoutError, BackendUnavailableError } from '../../core/errors.js';
import type { HttpClient } from './client.js';
import { problemError } from './problems.js';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SseStream {
  close(): void;
}

/** Splits the text/event-stream format (WHATWG HTML §9.2) into events; comments (`:`) are dropped. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end === -1) return;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

/**
 * A stream that delivers nothing, not even the server's keepalive comment
 * (SSE_KEEPALIVE, 15 s by default), for this long is taken as lost: a
 * half-open connection (the server's host gone without a FIN) ends no other way.
 */
export const SSE_IDLE_TIMEOUT_MS = 60_000;

export interface OpenSseOptions {
  path: string;
  /** Default SSE_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  headers?: Record<string, string>;
  onEvent(event: SseEvent): void;
  /** The stream ended or failed after it was open (not called after close()). */
  onEnd(error: Error): void;
  operation: string;
}

/** Streams get their own Agent per client: sockets of their own, closed with the stream. */
const streamAgents = new WeakMap<HttpClient, HttpAgent>();

function streamAgent(client: HttpClient, secure: boolean): HttpAgent {
  let agent = streamAgents.get(client);
  if (agent === undefined) {
    agent = secure ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
    streamAgents.set(client, agent);
  }
  return agent;
}

/** Opens the stream; resolves once the server answered 200 (within the client's timeout), else rejects with a typed error. */
export function openSse(client: HttpClient, options: OpenSseOptions): Promise<SseStream> {
  const url = client.target(options.path);
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const timeoutMs = client.timeoutMs;
  return new Promise<SseStream>((resolve, reject) => {
    let open = false;
    let closed = false;
    let req: ClientRequest | undefined;
    let lastActivity = Date.now();
    let idleCheck: NodeJS.Timeout | undefined;
    const idleTimeoutMs = options.idleTimeoutMs ?? client.streamIdleTimeoutMs ?? SSE_IDLE_TIMEOUT_MS;
    const timer = setTimeout(() => {
      req?.destroy();
      reject(new BackendTimeoutError(timeoutMs, options.operation));
    }, timeoutMs);
    const stream: SseStream = {
      close() {
        closed = true;
        clearInterval(idleCheck);
        req?.destroy();
      },
    };
    const ended = (error: Error): void => {
      if (closed) return;
      closed = true;
      clearInterval(idleCheck);
      req?.destroy();
      options.onEnd(error);
    };
    req = send(
      url,
      {
        method: 'GET',
        agent: streamAgent(client, secure),
        headers: { accept: 'text/event-stream', ...client.authorization(), ...options.headers },
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            reject(problemError({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }, options.operation));
          });
          return;
        }
        clearTimeout(timer);
        // A 200 of something else (a proxy's sign-in page) would read as a stream that delivers nothing and ends.
        if (!/^text\/event-stream\b/i.test(res.headers['content-type'] ?? '')) {
          req?.destroy();
          reject(
            new BackendUnavailableError(
              `the ${options.operation} answer is not an event stream (${res.headers['content-type'] ?? 'no content type'})`,
            ),
          );
          return;
        }
        open = true;
        const parser = new SseParser(options.onEvent);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          lastActivity = Date.now();
          parser.push(chunk);
        });
        idleCheck = setInterval(
          () => {
            if (Date.now() - lastActivity > idleTimeoutMs)
              ended(new BackendUnavailableError(`the ${options.operation} stream was silent for ${idleTimeoutMs} ms`));
          },
          Math.min(idleTimeoutMs, 5000),
        );
        idleCheck.unref();
        res.on('end', () => ended(new BackendUnavailableError(`the cacheport server ended the ${options.operation} stream`)));
        res.on('close', () => ended(new BackendUnavailableError(`the ${options.operation} stream was closed`)));
        res.on('error', (error) =>
          ended(new BackendUnavailableError(`the ${options.operation} stream failed: ${error.message}`, { cause: error })),
        );
        resolve(stream);
      },
    );
    req.on('error', (error) => {
      if (open) {
        ended(new BackendUnavailableError(`the ${options.operation} stream failed: ${error.message}`, { cause: error }));
        return;
      }
      clearTimeout(timer);
      reject(new BackendUnavailableError(`cacheport server unreachable (${options.operation}): ${error.message}`, { cause: error }));
    });
    req.end();
  });
}

/** Closes the sockets of every stream the client opened. */
export function closeStreams(client: HttpClient): void {
  streamAgents.get(client)?.destroy();
  streamAgents.delete(client);
}
