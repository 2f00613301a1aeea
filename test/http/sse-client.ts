/**
 * A real streaming Server-Sent-Events client for the HTTP tests (node:http):
 * parses events as they arrive, records comment lines, and tells how the
 * response ended (cleanly, or cut by the server).
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseConnection {
  status: number;
  headers: IncomingMessage['headers'];
  /** The body of a non-200 answer. */
  body: string;
  events: SseMessage[];
  comments: string[];
  /** Waits (up to `timeoutMs`) until `count` events have arrived; returns them all. */
  waitForEvents(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  /** Waits until a comment line arrived. */
  waitForComment(timeoutMs?: number): Promise<string>;
  /** Resolves when the response is over: `end` (the server finished it) or `aborted` (the connection was cut). */
  ended: Promise<'end' | 'aborted'>;
  /** Stop reading: the socket's buffers fill up and the server sees no drain. */
  pause(): void;
  /** Read again (a paused client sees the end of a cut connection only after reading what is buffered). */
  resume(): void;
  close(): void;
}

/** Opens GET `path` and resolves once the response headers are in (or the whole body of a non-200). */
export function openSse(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let req: ClientRequest | undefined;
    req = request({ hostname, port, path, method: 'GET', headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseMessage[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      const notify = () => {
        for (const waiter of waiters) waiter();
      };
      let buffer = '';
      let finish: (how: 'end' | 'aborted') => void = () => {};
      const ended = new Promise<'end' | 'aborted'>((done) => {
        let settled = false;
        finish = (how) => {
          if (settled) return;
          settled = true;
          done(how);
          notify();
        };
      });
      res.on('aborted', () => finish('aborted'));
      res.on('error', () => finish('aborted'));
      res.on('end', () => finish('end'));
      res.on('close', () => finish(res.complete ? 'end' : 'aborted'));

      const waitFor = <T>(ready: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
        new Promise((ok, fail) => {
          let over = false;
          const check = () => {
            const value = ready();
            if (value !== undefined) {
              cleanup();
              ok(value);
            } else if (over || res.destroyed || res.complete) {
              cleanup();
              fail(new Error(`${what}: not there (have ${events.length} events: ${JSON.stringify(events.slice(-3))})`));
            }
          };
          const timer = setTimeout(() => {
            over = true;
            check();
          }, timeoutMs);
          const cleanup = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        });

      const connection: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: '',
        events,
        comments,
        ended,
        waitForEvents: (count, timeoutMs = 10_000) =>
          waitFor(() => (events.length >= count ? events.slice() : undefined), `${count} events`, timeoutMs),
        waitForComment: (timeoutMs = 10_000) => waitFor(() => comments[0], 'a comment', timeoutMs),
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => {
          req?.destroy();
          req = undefined;
        },
      };
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (chunk: string) => {
          connection.body += chunk;
        });
        res.on('end', () => resolve(connection));
        return;
      }
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          parseBlock(block, events, comments);
        }
        notify();
      });
      resolve(connection);
    });
    req.on('error', reject);
    req.end();
  });
}

function parseBlock(block: string, events: SseMessage[], comments: string[]): void {
  const data: string[] = [];
  let event = 'message';
  let id: string | undefined;
  let isEvent = false;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    isEvent = true;
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  }
  if (isEvent) events.push({ ...(id !== undefined && { id }), event, data: data.join('\n') });
}

/** The parsed data of every event of type `event`. */
export function dataOf<T>(events: SseMessage[], event: string): T[] {
  return events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
}
