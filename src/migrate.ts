/** Entry point of `cacheport migrate`, runnable directly with tsx in development. */
import { runMigrateCommand } from './migrate-command.js';

runMigrateCommand();
