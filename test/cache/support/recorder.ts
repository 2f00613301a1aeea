/** Test helpers for change-feed tests: record a subscriber's events and wait for the ones a test expects. */
import type { ChangeEvent } from '../../../src/core/port.js';

/** Collects the events of one namespace and waits for the ones a test expects. */
export function recorder() {
  const events: ChangeEvent[] = [];
  return {
    events,
    onEvent: (event: ChangeEvent) => events.push(event),
    async waitFor(match: (event: ChangeEvent) => boolean, timeoutMs = 10_000): Promise<ChangeEvent> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = events.find(match);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
    },
  };
}

export const keysOf = (event: ChangeEvent): string[] => (event.type === 'change' ? (event.keys ?? []) : []);
