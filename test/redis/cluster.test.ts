/**
 * The whole CachePort contract suite against a 3-master Redis Cluster started
 * from local redis-server processes: every script's keys must share one slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { feedConnectionName } from '../../src/adapters/redis/change-feed.js';
import { channelReaderName } from '../../src/adapters/redis/channel-readers.js';
import type { ChangeEvent } from '../../src/core/port.js';
import { killRedisClientsNamed } from '../cache/support/feed-faults.js';
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

describe('redis cluster change feed', () => {
  async function until(events: ChangeEvent[], match: (e: ChangeEvent) => boolean): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!events.some(match)) {
      if (Date.now() > deadline) throw new Error(`no matching event; got ${JSON.stringify(events)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('delivers changes through sharded pub/sub from every master, and reports a killed subscriber down and up', async () => {
    const prefix = uniqueName('cpcl');
    const writer = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: '', clusterNodes: current().nodes, prefix });
    const reader = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: '', clusterNodes: current().nodes, prefix });
    try {
      // Enough namespaces that their slots fall on more than one master.
      const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
      const events: ChangeEvent[] = [];
      const subs = await Promise.all(names.map((ns) => reader.changes(ns, (e) => events.push(e))));
      for (const ns of names) await writer.set(ns, 'k', ns);
      for (const ns of names) await until(events, (e) => e.type === 'change' && e.ns === ns && e.op === 'set' && e.keys?.[0] === 'k');
      const killed = await Promise.all(
        current().nodes.map((node) => killRedisClientsNamed(`redis://${node.host}:${node.port}`, feedConnectionName(prefix))),
      );
      expect(killed.filter((n) => n > 0).length).toBeGreaterThan(1);
      await until(events, (e) => e.type === 'down');
      await until(events, (e) => e.type === 'up');
      for (const ns of names) await writer.delete(ns, 'k');
      for (const ns of names) await until(events, (e) => e.type === 'change' && e.ns === ns && e.op === 'delete');
      for (const sub of subs) sub.unsubscribe();
    } finally {
      await reader.close();
      await writer.close();
    }
  }, 60_000);
});

describe('redis cluster channels', () => {
  it('reads channels on every master (one blocking reader each) and resumes after every reader is killed', async () => {
    const prefix = uniqueName('cpcl');
    const publisher = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: '', clusterNodes: current().nodes, prefix });
    const subscriber = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: '', clusterNodes: current().nodes, prefix });
    try {
      // Enough channels that their slots fall on more than one master.
      const channels = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
      const received = new Map<string, unknown[]>(channels.map((c) => [c, []]));
      // One after another: ioredis (enableOfflineQueue off) rejects a command sent to a cluster node whose
      // connection is still being opened by a concurrent first command.
      const subs = [];
      for (const c of channels) {
        subs.push(await subscriber.subscribe(c, (e) => received.get(c)?.push(e.type === 'message' ? e.data : e)));
      }
      const settled = async (count: number): Promise<void> => {
        const deadline = Date.now() + 15_000;
        while (![...received.values()].every((list) => list.length >= count)) {
          if (Date.now() > deadline) throw new Error(`not every channel got ${count}: ${JSON.stringify([...received])}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      for (const c of channels) await publisher.publish(c, `${c}-1`);
      await settled(1);
      const killed = await Promise.all(
        current().nodes.map((node) => killRedisClientsNamed(`redis://${node.host}:${node.port}`, channelReaderName(prefix))),
      );
      expect(killed.filter((n) => n > 0).length).toBeGreaterThan(1);
      expect(killed.reduce((a, b) => a + b, 0)).toBe(channels.length);
      for (const c of channels) await publisher.publish(c, `${c}-2`);
      await settled(2);
      for (const c of channels) expect(received.get(c)).toEqual([`${c}-1`, `${c}-2`]);
      for (const sub of subs) sub.unsubscribe();
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  }, 60_000);
});

runContractSuite(redisClusterFactory(current), { label: 'redis cluster' });
