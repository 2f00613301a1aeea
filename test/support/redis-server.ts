/**
 * Throwaway redis-server processes on free local ports, for tests that must
 * stop and restart Redis (never the shared one on 6379). No persistence.
 */
import { canConnect, killOnExit } from './processes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedTcpPort } from './contract-unreachable.js';

export { closedTcpPort };

export interface RedisServerProcess {
  port: number;
  /** Working directory (cluster config files live here). */
  dir: string;
  start(): Promise<void>;
  /** Kills the process and waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that accepts connections but never answers. */
  pause(): void;
  resume(): void;
  /** stop() and remove the working directory. */
  destroy(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server on port ${port} did not start within ${timeoutMs} ms`);
}

/** Creates (and starts) a redis-server on a free port with the given extra arguments. */
export async function startRedisServer(extraArgs: string[] = [], port?: number): Promise<RedisServerProcess> {
  const chosen = port ?? (await closedTcpPort());
  const dir = mkdtempSync(join(tmpdir(), `cp-redis-${chosen}-`));
  let child: ChildProcess | undefined;

  const server: RedisServerProcess = {
    port: chosen,
    dir,
    async start() {
      if (child && child.exitCode === null) return;
      child = spawn(
        'redis-server',
        ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
        { cwd: dir, stdio: 'ignore' },
      );
      const started = child;
      killOnExit(started);
      await waitForPort(chosen);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGCONT');
      running.kill('SIGTERM');
      const killTimer = setTimeout(() => running.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killTimer);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
