/**
 * Scale test, Redis topology: three instances over a local 3-master Redis
 * Cluster (REDIS_CLUSTER_NODES), one key prefix shared by the instances.
 * The same checks as over Postgres; there is no pooler to restart.
 */
import { startLocalCluster } from '../support/redis-cluster.js';
import { uniqueName } from '../support/services.js';
import { skipWithoutHaproxy } from './support/haproxy.js';
import { INSTANCES, scaleSuite } from './suite.js';

scaleSuite(
  {
    name: `${INSTANCES} instances + 3-master Redis Cluster`,
    async start() {
      const cluster = await startLocalCluster(3);
      return {
        env: {
          CACHE_BACKEND: 'redis',
          REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
          REDIS_PREFIX: uniqueName('cpscale'),
          BACKEND_TIMEOUT_MS: '2000',
          WORKER: 'off',
        },
        firstEnv: { WORKER: 'inline' },
        // The cluster is thrown away with everything in it.
        stop: () => cluster.destroy(),
      };
    },
  },
  { skip: skipWithoutHaproxy },
);
