/**
 * Two processes on one CACHE_DATA_DIR (a second server, or `cacheport worker` / `migrate` beside a server)
 * share one embedded PostgreSQL. The one that started it stopping must not pull the database from under
 * the others: the last one out stops it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedClusterDir, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/adapters/postgres/embedded.js';

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('embedded PostgreSQL shared by two processes on one data dir', () => {
  let dir: string | undefined;
  const handles: EmbeddedPostgresHandle[] = [];
  afterAll(async () => {
    for (const handle of handles) await handle.stop().catch(() => undefined);
    if (dir) {
      await rm(embeddedClusterDir(path.join(dir, 'data')), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps serving the sharer when the starter stops, and stops with the last one', { timeout: 180_000 }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cacheport-shared-'));
    const dataDir = path.join(dir, 'data');
    const starter = await startEmbeddedPostgres({ dataDir });
    handles.push(starter);
    const sharer = await startEmbeddedPostgres({ dataDir });
    handles.push(sharer);
    expect(sharer.url).toBe(starter.url);
    const pid = Number((await readFile(path.join(starter.clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

    // The sharer is using it (a pool stays open, as a running server's would).
    const sharerPool = postgres(sharer.url, { max: 1, onnotice: () => {} });
    await sharerPool`SELECT 1`;
    await starter.stop();
    expect(await answers(sharer.url)).toBe(true);
    await sharerPool.end({ timeout: 1 });

    await sharer.stop();
    expect(alive(pid)).toBe(false);
  });

  it('two first starts at once on a fresh data dir: one initializes and starts it, the other shares it', { timeout: 180_000 }, async () => {
    const fresh = path.join(dir as string, 'fresh');
    try {
      const both = await Promise.allSettled([startEmbeddedPostgres({ dataDir: fresh }), startEmbeddedPostgres({ dataDir: fresh })]);
      for (const result of both) if (result.status === 'fulfilled') handles.push(result.value);
      expect(both.map((result) => (result.status === 'rejected' ? String(result.reason) : 'ok'))).toEqual(['ok', 'ok']);
      const [first, second] = handles.slice(-2) as [EmbeddedPostgresHandle, EmbeddedPostgresHandle];
      expect(second.url).toBe(first.url);
      expect(await answers(first.url)).toBe(true);
    } finally {
      for (const handle of handles.splice(0)) await handle.stop().catch(() => undefined);
      await rm(embeddedClusterDir(fresh), { recursive: true, force: true });
    }
  });
});
