/**
 * A Postgres port on a fresh, migrated schema, with the adapter's own options
 * (read-tracking intervals) exposed for the Postgres-specific tests.
 */
import postgres from 'postgres';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { createPostgresPort, type PostgresPort, type PostgresPortOptions } from '../../src/adapters/postgres/index.js';
import { PG_URL, uniqueName } from '../support/services.js';

export interface PgTestPort {
  port: PostgresPort;
  schema: string;
  /** Closes the port only (flushing buffered stats); cleanup() still drops the schema. */
  close(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createTestSchema(): Promise<string> {
  const schema = uniqueName('cppg').toLowerCase();
  await runMigrations(PG_URL, schema);
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end();
  }
}

export async function createPgTestPort(options: Partial<PostgresPortOptions> = {}): Promise<PgTestPort> {
  const schema = await createTestSchema();
  const port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, poolMax: 4, ...options, url: PG_URL, schema });
  let closed = false;
  const close = async () => {
    if (!closed) await port.close();
    closed = true;
  };
  return {
    port,
    schema,
    close,
    async cleanup() {
      await close();
      await dropSchema(schema);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `done` holds or the deadline passes (generous: the machine is shared). */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(50);
    value = await read();
  }
  return value;
}
