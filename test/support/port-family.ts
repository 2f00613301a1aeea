/**
 * The shape every test backend factory returns, built once: a first port,
 * siblings on the same scope (like other processes), and a cleanup.
 */
import postgres from 'postgres';
import type { AdapterOptions } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import type { TestBackend } from './backends.js';
import { PG_URL } from './services.js';

/**
 * A TestBackend from a port maker: the first port, siblings on the same scope,
 * and a cleanup that closes them all before `removeScope` drops what they stored.
 */
export function portFamily(
  make: (options: Partial<AdapterOptions>) => CachePort,
  options: Partial<AdapterOptions>,
  scope: string,
  removeScope: () => Promise<unknown>,
): TestBackend {
  const port = make(options);
  const siblings: CachePort[] = [];
  return {
    port,
    scope,
    sibling(more = options) {
      const other = make(more);
      siblings.push(other);
      return other;
    },
    async cleanup() {
      await Promise.all([port, ...siblings].map((p) => p.close()));
      await removeScope();
    },
  };
}

/** Drops a test schema (and everything in it). */
export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql.end();
}
