/**
 * A minimal Server-Sent Events reader over fetch, for the pub/sub check:
 * resolves once the response headers arrived (from then on the subscription
 * receives every message published), then collects events until closed.
 */

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  events: SseEvent[];
  /** Resolves true once `predicate(events)` holds, false after `timeoutMs`. */
  waitFor(predicate: (events: SseEvent[]) => boolean, timeoutMs: number): Promise<boolean>;
  close(): void;
}

export async function openSse(url: string): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  if (response.ok && response.body !== null) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = '';
      let current: { id?: string; event?: string; data: string[] } = { data: [] };
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let newline = buffer.indexOf('\n');
          while (newline >= 0) {
            const line = buffer.slice(0, newline).replace(/\r$/, '');
            buffer = buffer.slice(newline + 1);
            newline = buffer.indexOf('\n');
            if (line === '') {
              if (current.data.length > 0 || current.event !== undefined) {
                events.push({ id: current.id, event: current.event ?? 'message', data: current.data.join('\n') });
                for (const wake of waiters) wake();
              }
              current = { data: [] };
            } else if (!line.startsWith(':')) {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') current.id = text;
              else if (field === 'event') current.event = text;
              else if (field === 'data') current.data.push(text);
            }
          }
        }
      } catch {
        // closed
      }
    })();
  } else {
    await response.body?.cancel();
  }
  return {
    status: response.status,
    events,
    waitFor(predicate, timeoutMs) {
      if (predicate(events)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const wake = () => {
          if (!predicate(events)) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(false);
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () => controller.abort(),
  };
}
