/**
 * `rm -rf .data` to start over: as root the cluster lives outside CACHE_DATA_DIR
 * (/var/lib/cacheport/clusters/<hash>), so it outlived its password file, and the next
 * start failed with "password authentication failed". A cluster whose password file
 * is gone is unreachable by anyone: it is replaced by a fresh one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedClusterDir, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/adapters/postgres/embedded.js';

describe('embedded PostgreSQL after its data directory was removed', () => {
  let dir: string | undefined;
  let handle: EmbeddedPostgresHandle | undefined;
  afterAll(async () => {
    await handle?.stop().catch(() => undefined);
    if (dir) {
      await rm(embeddedClusterDir(path.join(dir, 'data')), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts again with a fresh cluster', { timeout: 180_000 }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cacheport-reset-'));
    const dataDir = path.join(dir, 'data');
    handle = await startEmbeddedPostgres({ dataDir });
    await handle.stop();
    handle = undefined;
    await rm(dataDir, { recursive: true, force: true });

    handle = await startEmbeddedPostgres({ dataDir });
    const sql = postgres(handle.url, { max: 1, onnotice: () => {} });
    try {
      expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
