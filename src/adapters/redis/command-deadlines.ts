/**
 * Command timeouts for a single-node client with one shared timer instead of
 * ioredis's `commandTimeout`, which arms a setTimeout per command and clears it
 * on the reply: measured at 3–10 µs of Node CPU per command on the loaded bench
 * machine (raw GET with vs without it), a quarter of a raw GET's cost.
 *
 * A command waiting for its reply sits in ioredis's `commandQueue` (FIFO:
 * replies arrive in order, each reply shifts the head). Every TICK the sweep
 * notes the queue's last command; once a note is `timeoutMs` old, every
 * command still queued up to and including the noted one was sent at least
 * `timeoutMs` ago and is rejected with ioredis's own "Command timed out" error
 * (mapped to BackendTimeoutError by mapRedisError), as commandTimeout would.
 * A command therefore times out after timeoutMs plus at most two ticks, never
 * earlier. Its late reply still shifts it off the queue (resolving a settled
 * promise does nothing), as with commandTimeout.
 *
 * Only for a single node with the offline queue off (connection.ts): every
 * command is either in commandQueue or already rejected. A Cluster keeps
 * commandTimeout: its commands can wait in node offline queues or between
 * redirections, outside any one commandQueue.
 */
import type { Redis } from 'ioredis';

/** What commandQueue holds; ioredis's Command (its type names only Respondable's part). */
interface QueuedCommand {
  isResolved?: boolean;
  reject(error: Error): void;
}

interface Note {
  at: number;
  last: QueuedCommand;
}

/** Sweeps per timeout: the granularity of the bound (a command may run up to 2/TICKS_PER_TIMEOUT late). */
const TICKS_PER_TIMEOUT = 16;

export function enforceCommandDeadlines(redis: Redis, timeoutMs: number): void {
  const notes: Note[] = [];
  // Rejected by the sweep but not yet answered: still queued, not to be rejected twice.
  const expired = new WeakSet<QueuedCommand>();

  function sweep(): void {
    const queue = redis.commandQueue;
    const now = performance.now();
    const last: QueuedCommand | undefined = queue.peekBack()?.command;
    if (last !== undefined && notes.at(-1)?.last !== last) notes.push({ at: now, last });
    while (notes.length > 0 && (notes[0] as Note).at + timeoutMs <= now) {
      expireUpTo(queue, (notes.shift() as Note).last);
    }
  }

  function expireUpTo(queue: Redis['commandQueue'], noted: QueuedCommand): void {
    const length = queue.length;
    let through = -1;
    for (let i = 0; i < length; i++) {
      if (queue.peekAt(i)?.command === noted) {
        through = i;
        break;
      }
    }
    // Not queued any more: answered, and so was everything sent before it.
    for (let i = 0; i <= through; i++) {
      const command: QueuedCommand | undefined = queue.peekAt(i)?.command;
      if (command === undefined || command.isResolved || expired.has(command)) continue;
      expired.add(command);
      command.reject(new Error('Command timed out'));
    }
  }

  const timer = setInterval(sweep, Math.max(1, Math.ceil(timeoutMs / TICKS_PER_TIMEOUT)));
  timer.unref();
  redis.once('end', () => clearInterval(timer));
}
