import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { SCHEMA_PATTERN } from './schema-name.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/**
 * Applies drizzle/ migrations to `schema`. Idempotent, and safe when several
 * processes start at once: they serialize on an advisory lock per schema.
 */
export async function runMigrations(url: string, schema: string): Promise<void> {
  if (!SCHEMA_PATTERN.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { search_path: schema, application_name: 'cacheport-migrate' },
  });
  try {
    await sql`SELECT pg_advisory_lock(hashtext(${'cacheport:migrate:' + schema}))`;
    try {
      await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await migrate(drizzle(sql), {
        migrationsFolder: MIGRATIONS_FOLDER,
        migrationsSchema: schema,
        migrationsTable: '__drizzle_migrations',
      });
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext(${'cacheport:migrate:' + schema}))`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
