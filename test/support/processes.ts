/**
 * Helpers for tests that start programs of their own (PgBouncer, HAProxy,
 * redis-server, cacheport servers): a registry that kills what is still
 * running if the test process exits without its afterAll, and a TCP probe.
 */
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** `child` is killed when the test process exits, unless it exited first. */
export function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
