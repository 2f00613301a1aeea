/**
 * `npm run migrate`: applies the drizzle/ migrations to CACHE_SCHEMA, on
 * DATABASE_URL or, when it is unset, on the embedded PostgreSQL under
 * CACHE_DATA_DIR. Exits 0 on success, 1 with a message on failure.
 */
import { loadConfig } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './adapters/postgres/embedded.js';
import { runMigrations } from './adapters/postgres/migrate.js';

async function main(): Promise<void> {
  const config = loadConfig();
  let embedded: EmbeddedPostgresHandle | undefined;
  try {
    let url = config.databaseUrl;
    if (url === undefined) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
      url = embedded.url;
    }
    await runMigrations(url, config.schema);
    process.stdout.write(`migrations applied to schema "${config.schema}"${embedded ? ' (embedded PostgreSQL)' : ''}\n`);
  } finally {
    await embedded?.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`migrate failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
