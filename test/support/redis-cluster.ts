/**
 * A throwaway 3-master Redis Cluster from local redis-server processes on free
 * ports, and a BackendFactory that points the adapter at it.
 */
import { portFamily } from './port-family.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DEFAULT_ADAPTER_OPTIONS, type AdapterOptions } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import type { BackendFactory } from './backends.js';
import { startRedisServer, type RedisServerProcess } from './redis-server.js';
import { uniqueName } from './services.js';

const run = promisify(execFile);

export interface LocalCluster {
  nodes: { host: string; port: number }[];
  /** Kills every process it started and removes their directories (bounded time). */
  destroy(): Promise<void>;
}

async function clusterState(port: number): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'], { timeout: 5000 });
  return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown';
}

export async function startLocalCluster(masters = 3): Promise<LocalCluster> {
  const servers: RedisServerProcess[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.allSettled(servers.map((s) => s.destroy()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000']),
      );
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-yes'], { timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = await Promise.all(servers.map((s) => clusterState(s.port)));
      if (states.every((s) => s === 'ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster not ok after 30 s: ${states.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** Ports on the given cluster, each with its own key prefix; cleanup drops the prefix's keys on every master. */
export function redisClusterFactory(cluster: () => LocalCluster): BackendFactory {
  return {
    name: 'redis',
    async create(options = {}) {
      const prefix = uniqueName('cptest');
      const { nodes } = cluster();
      const make = (given: Partial<AdapterOptions>): CachePort =>
        createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, ...given, url: '', clusterNodes: nodes, prefix });
      // The cluster is thrown away after the suite; FLUSHALL each master keeps reruns clean.
      return portFamily(make, options, prefix, () =>
        Promise.allSettled(nodes.map((n) => run('redis-cli', ['-p', String(n.port), 'flushall'], { timeout: 5000 }))),
      );
    },
  };
}
