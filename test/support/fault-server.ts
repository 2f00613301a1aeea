/**
 * The real server (`src/main.ts`, what `npm start` runs) as a child process
 * on an ephemeral port, so fault tests can read its RSS honestly, capture
 * every log line it writes, and see it crash or refuse to start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildServer {
  url: string;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** True while the process has not exited. */
  alive(): boolean;
  /** Resident set size in bytes, from /proc. */
  rssBytes(): number;
  /** RSS right after a full GC; needs the server started with GC_PRELOAD_ARGS. */
  rssAfterGc(): Promise<number>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** SIGTERM (graceful), SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface ChildExit {
  code: number | null;
  output: string;
}

function spawnServer(env: Record<string, string>, nodeArgs: string[] = []): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: '0',
      WORKER: 'off',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { child, output: () => text };
}

/** Starts the server and waits for its "listening" log line (bounded). */
function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error('no VmRSS in /proc status');
  return Number(kb[1]) * 1024;
}

/** Node arguments that let rssAfterGc() force a full GC in the server (test-only preload). */
export const GC_PRELOAD_ARGS = ['--expose-gc', '--import', fileURLToPath(new URL('./gc-on-signal.mjs', import.meta.url))];

/** `nodeArgs` go before the script, e.g. test-only `--expose-gc --import` preloads. */
export async function startChildServer(env: Record<string, string>, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<ChildServer> {
  const { child, output } = spawnServer(env, nodeArgs);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const poll = setInterval(() => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output());
      if (match) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${output()}`));
    });
  });
  const pid = child.pid as number;
  return {
    url,
    pid,
    output,
    alive: () => child.exitCode === null && child.signalCode === null,
    rssBytes: () => readRss(pid),
    async rssAfterGc() {
      const done = () => output().split('gc-on-signal: done').length;
      const before = done();
      child.kill('SIGUSR2');
      const deadline = Date.now() + 10_000;
      while (done() === before) {
        if (Date.now() > deadline) throw new Error('the server did not report a GC within 10 s (started without GC_PRELOAD_ARGS?)');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return readRss(pid);
    },
    fetch: (path, init) => fetch(url + path, init),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}

/** Runs the server expecting it to exit by itself (a refused start); kills it after `timeoutMs`. */
export async function runServerUntilExit(env: Record<string, string>, timeoutMs = 20_000): Promise<ChildExit> {
  const { child, output } = spawnServer(env);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, output: output() };
}
