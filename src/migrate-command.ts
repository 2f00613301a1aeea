/**
 * `cacheport migrate` / `npm run migrate`: applies the drizzle/ migrations to
 * CACHE_SCHEMA, on DATABASE_URL (waiting up to STARTUP_TIMEOUT for it) or,
 * when it is unset, on the embedded PostgreSQL of CACHE_DATA_DIR (shared with
 * a running server, else started for the duration). Exits 0 on success, 1 with one line on failure.
 */
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { prepareDatabase } from './backend.js';
import { exitWithStartupFailure } from './fatal.js';

export async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const { embedded } = await prepareDatabase(config, logger);
  await embedded?.stop();
  process.stdout.write(
    `migrations applied to schema "${config.schema}"${embedded ? ` (embedded PostgreSQL in ${embedded.clusterDir})` : ''}\n`,
  );
}

export function runMigrateCommand(): void {
  migrateCommand().then(
    () => process.exit(0),
    (error: unknown) => exitWithStartupFailure('migrate', error),
  );
}
