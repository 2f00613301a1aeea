import { fork, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/free-port.js';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The serving process (its CPU time is read from /proc); undefined when it has none of its own. */
  pid?: number;
  stop(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 8_000;

/** Keeps the tail of a child's stderr and stops it: SIGTERM, then SIGKILL after killAfterMs. */
function superviseChild(child: ChildProcess, killAfterMs: number): { stderr(): string; stop(): Promise<void> } {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  };
  return { stderr: () => tail, stop };
}

/** Forks server-process.ts (under tsx) and waits for it to report its URL. */
export function startChildServer(kind: 'bare-hono' | 'app', env: Record<string, string>): Promise<ChildServer> {
  const child = fork(ENTRY, [kind], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const { stderr, stop } = superviseChild(child, STOP_TIMEOUT_MS);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${kind} server did not start within ${START_TIMEOUT_MS} ms: ${stderr().trim()}`));
    }, START_TIMEOUT_MS);
    child.once('message', (message: unknown) => {
      clearTimeout(timer);
      const url =
        typeof message === 'object' && message !== null && 'url' in message ? String((message as { url: unknown }).url) : undefined;
      if (url === undefined) {
        void stop();
        reject(new Error(`${kind} server sent no URL`));
        return;
      }
      resolve({ url, stop, ...(child.pid === undefined ? {} : { pid: child.pid }) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited (${code ?? 'signal'}): ${stderr().trim().split('\n').slice(0, 3).join(' | ')}`));
    });
  });
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface MainServerOptions {
  /** CPUs the server (and every worker it forks) may run on, as `taskset -c` takes them, e.g. "1". */
  cpuList?: string;
}

/**
 * `npm start` itself (src/main.ts under tsx) on a free port, e.g. with
 * WEB_CONCURRENCY for multi-process mode; ready once GET /health answers.
 * With `cpuList` it starts under `taskset` (which execs node: the pid is the server's).
 */
export async function startMainServer(env: Record<string, string>, options: MainServerOptions = {}): Promise<ChildServer> {
  const port = await freePort();
  const node = [process.execPath, '--import', 'tsx', MAIN];
  const [command, ...args] = options.cpuList === undefined ? node : ['taskset', '-c', options.cpuList, ...node];
  const child = spawn(command as string, args, {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { stderr, stop } = superviseChild(child, STOP_TIMEOUT_MS + 10_000);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`server exited (${child.exitCode}): ${stderr().trim().split('\n').slice(0, 3).join(' | ')}`);
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      return { url, stop, ...(child.pid === undefined ? {} : { pid: child.pid }) };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server did not start within ${START_TIMEOUT_MS} ms: ${stderr().trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
