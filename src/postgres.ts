/** `cacheport/postgres`: the Postgres adapter, its migrations, and the embedded server. */
export { createPostgresPort, type PostgresPort, type PostgresPortOptions } from './adapters/postgres/index.js';
export { runMigrations } from './adapters/postgres/migrate.js';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from './adapters/postgres/embedded.js';
