/**
 * A child process holding one port and one cache, driven by JSON lines on
 * stdin (one command each, answered by one JSON line with the same id).
 * Started by children.ts as `node --import tsx cache-child.ts <backend> <url> <scope> <ns>`.
 */
import { createInterface } from 'node:readline';
import { DEFAULT_ADAPTER_OPTIONS } from '../../../src/core/defaults.js';
import type { CachePort } from '../../../src/core/port.js';
import { createPostgresPort } from '../../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../../src/adapters/redis/index.js';
import { createCache } from '../../../src/cache/index.js';

const [backend, url, scope, ns] = process.argv.slice(2) as [string, string, string, string];

const port: CachePort =
  backend === 'postgres'
    ? createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url, schema: scope, poolMax: 4 })
    : createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url, prefix: scope });
const localCache = { maxEntries: 10_000, ttl: '1m' };
const cache = createCache({ port, namespace: ns, localCache, timeouts: { hard: '20s' } });

let factoryRuns = 0;

interface Command {
  id: number;
  cmd: 'getOrSet' | 'set' | 'get' | 'watch' | 'stats';
  key: string;
  value?: unknown;
  callers?: number;
  factoryMs?: number;
}

function send(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function handle(command: Command): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case 'getOrSet': {
      const callers = command.callers ?? 1;
      const results = await Promise.allSettled(
        Array.from({ length: callers }, () =>
          cache.getOrSet(command.key, async () => {
            factoryRuns++;
            send({ event: 'factory-started', pid: process.pid });
            await new Promise((resolve) => setTimeout(resolve, command.factoryMs ?? 200));
            return `computed by ${process.pid}`;
          }),
        ),
      );
      return {
        values: results.map((r) => (r.status === 'fulfilled' ? r.value : null)),
        errors: results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
        factoryRuns,
      };
    }
    case 'set':
      await cache.set(command.key, command.value);
      return { at: Date.now() };
    case 'get':
      return { result: (await cache.get(command.key, { metadata: true })) ?? null };
    case 'watch': {
      // Reads until the value is the expected one; reports when it was seen.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const found = await cache.get(command.key);
        if (JSON.stringify(found) === JSON.stringify(command.value)) return { at: Date.now() };
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { at: null };
    }
    case 'stats':
      return { stats: cache.stats() };
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command;
  handle(command).then(
    (result) => send({ id: command.id, ...result }),
    (error: unknown) => send({ id: command.id, error: String(error) }),
  );
});
process.stdin.on('end', () => {
  void cache
    .close()
    .then(() => port.close())
    .finally(() => process.exit(0));
});
send({ event: 'ready', pid: process.pid });
