/**
 * A throwaway redis-server on a free port that fault tests may crash
 * (SIGKILL) or stop cleanly (SIGTERM) and restart on the same port and data
 * directory — never the shared server on 6379. `persistent` turns on the
 * append-only file with fsync on every write, so what Redis acknowledged
 * survives a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedTcpPort, waitForPort } from './redis-server.js';
import type { ThrowawayServer } from './throwaway.js';

export type ThrowawayRedis = ThrowawayServer;

export async function startThrowawayRedis(options: { persistent?: boolean } = {}): Promise<ThrowawayRedis> {
  const port = await closedTcpPort();
  const dir = mkdtempSync(join(tmpdir(), `cp-fault-redis-${port}-`));
  const persistence =
    options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--appendonly', 'no', '--save', ''];
  let child: ChildProcess | undefined;

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const killer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };

  const server: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence], {
        cwd: dir,
        stdio: 'ignore',
      });
      await waitForPort(port);
    },
    crash: () => stop('SIGKILL'),
    stopClean: () => stop('SIGTERM'),
    async destroy() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
