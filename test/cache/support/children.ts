/**
 * Child processes running cache-child.ts, for the multi-process tests. Every
 * child is bounded: killed at stop() or when the test file ends.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const CHILD_SCRIPT = fileURLToPath(new URL('./cache-child.ts', import.meta.url));

export interface CacheChild {
  pid: number;
  /** Sends a command, resolves with the answer. */
  call(command: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves on the next event of this name. */
  nextEvent(name: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcessWithoutNullStreams>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startCacheChild(backend: string, url: string, scope: string, ns: string): Promise<CacheChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, backend, url, scope, ns], { stdio: 'pipe' });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const answers = new Map<number, (message: Record<string, unknown>) => void>();
  const eventWaiters: { name: string; resolve: (message: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof message.id === 'number') answers.get(message.id)?.(message);
    const i = eventWaiters.findIndex((w) => w.name === message.event);
    if (i >= 0) eventWaiters.splice(i, 1)[0]!.resolve(message);
  });
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  let nextId = 1;
  const api: CacheChild = {
    pid: child.pid ?? -1,
    call(command, timeoutMs = 30_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child ${child.pid} did not answer ${JSON.stringify(command)}; stderr: ${stderr}`)),
          timeoutMs,
        );
        answers.set(id, (message) => {
          clearTimeout(timer);
          answers.delete(id);
          resolve(message);
        });
        child.stdin.write(`${JSON.stringify({ id, ...command })}\n`);
      });
    },
    nextEvent(name, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child ${child.pid}: no ${name} event; stderr: ${stderr}`)), timeoutMs);
        eventWaiters.push({
          name,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    kill() {
      child.kill('SIGKILL');
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  await api.nextEvent('ready', 120_000);
  return api;
}
