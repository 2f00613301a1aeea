/**
 * cacheport server instances as child processes (`src/main.ts` through tsx,
 * what `npm run dev` runs), each on a free 127.0.0.1 port with the
 * environment of one topology. Every child is killed when the test process
 * exits, whatever happened to its afterAll.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/free-port.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STOP_GRACE_MS = 10_000;

export interface Instance {
  /** 1-based, as named in HAProxy (i1, i2, …). */
  index: number;
  port: number;
  url: string;
  pid: number;
  alive(): boolean;
  /** The last lines it wrote (warn and above), for failure messages. */
  output(): string;
  /** kill -9: no graceful shutdown, connections cut mid-request. */
  crash(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function waitUntilServing(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`instance exited before serving:\n${output()}`);
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`instance at ${url} not ready within ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts one instance with `env` on top of a quiet loopback environment; resolves once /health/ready answers 200. */
export async function startInstance(index: number, env: Record<string, string>, timeoutMs = 60_000): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(port),
      // Request lines at info would cost the load figures a log write per request.
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-6000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const alive = () => child.exitCode === null && child.signalCode === null;
  const signal = async (name: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (!alive()) return;
    child.kill(name);
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(url, child, () => text, timeoutMs);
  } catch (error) {
    await signal('SIGKILL', 0);
    throw error;
  }
  return {
    index,
    port,
    url,
    pid: child.pid ?? -1,
    alive,
    output: () => text,
    crash: () => signal('SIGKILL', 0),
    stop: () => signal('SIGTERM', STOP_GRACE_MS),
  };
}

/**
 * Starts `count` instances one after the other: the first runs the migrations
 * (and, with `firstEnv`, the worker); the others find them done.
 */
export async function startInstances(
  count: number,
  env: Record<string, string>,
  firstEnv: Record<string, string> = {},
): Promise<Instance[]> {
  const started: Instance[] = [];
  try {
    for (let i = 1; i <= count; i++) started.push(await startInstance(i, i === 1 ? { ...env, ...firstEnv } : env));
  } catch (error) {
    await Promise.allSettled(started.map((instance) => instance.stop()));
    throw error;
  }
  return started;
}
