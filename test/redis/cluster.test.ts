/**
 * The whole CachePort contract suite against a 3-master Redis Cluster started
 * from local redis-server processes: every script's keys must share one slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { runContractSuite } from '../contract/suite.js';
import { redisClusterFactory, startLocalCluster, type LocalCluster } from '../support/redis-cluster.js';
import { uniqueName } from '../support/services.js';

let cluster: LocalCluster | undefined;

function current(): LocalCluster {
  if (!cluster) throw new Error('the local Redis Cluster did not start (see the beforeAll error)');
  return cluster;
}

beforeAll(async () => {
  cluster = await startLocalCluster(3);
}, 90_000);

afterAll(async () => {
  await cluster?.destroy();
}, 30_000);

describe('redis cluster specifics', () => {
  it('spreads namespaces over the masters and keeps list() across slots', async () => {
    const port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: '', clusterNodes: current().nodes, prefix: uniqueName('cpcl') });
    try {
      const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
      for (const ns of names) await port.set(ns, 'k', ns, { tags: ['t'] });
      expect((await port.list()).namespaces.map((n) => n.name)).toEqual([...names].sort());
      for (const ns of names) expect(await port.invalidateTags(ns, ['t'])).toBe(1);
      expect(await port.rateLimit('rl-key', { limit: 2, windowMs: 60_000 })).toMatchObject({ allowed: true });
      expect(await port.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await port.close();
    }
  });
});

runContractSuite(redisClusterFactory(current), { label: 'redis cluster' });
