/**
 * Feed faults per backend: kill this install's change-feed connections (found
 * by the name the feed gives them: `cacheport-feed <schema>`, `cacheport-feed:<prefix>`).
 */
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { feedConnectionName } from '../../../src/adapters/redis/change-feed.js';
import type { BackendName } from '../../support/backends.js';
import { PG_URL, REDIS_URL } from '../../support/services.js';

/** Kills every feed connection of `scope`; returns how many were killed. */
export async function killFeedConnections(backend: BackendName, scope: string): Promise<number> {
  if (backend === 'postgres') {
    const name = `cacheport-feed ${scope}`;
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name.slice(0, 63)}`;
      return rows.length;
    } finally {
      await sql.end();
    }
  }
  return killRedisClientsNamed(REDIS_URL, feedConnectionName(scope));
}

/** CLIENT KILL ID for every client named `name` (CLIENT KILL has no name filter). */
export async function killRedisClientsNamed(url: string, name: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const list = (await redis.client('LIST')) as string;
    const ids = list
      .split('\n')
      .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])))
      .filter((client) => client.name === name)
      .map((client) => client.id as string);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    return ids.length;
  } finally {
    redis.disconnect();
  }
}
