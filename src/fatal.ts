/**
 * The one way every entry point (serve, worker, migrate) reports a failure to
 * start: one line on stderr naming cause and fix, exit 1. A stack trace only
 * with LOG_LEVEL=debug or trace, for bugs.
 */
import { ConfigError } from './config.js';
import { EmbeddedPostgresError } from './adapters/postgres/embedded.js';
import { StartupError } from './startup.js';

export function startupFailureLine(what: string, error: unknown): string {
  if (error instanceof ConfigError) return `cacheport ${what}: configuration error: ${error.message}`;
  if (error instanceof StartupError || error instanceof EmbeddedPostgresError) return `cacheport ${what}: ${error.message}`;
  const message = error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const hint =
    code === 'EADDRINUSE'
      ? '; set PORT (or HOST) to a free address'
      : code === 'EACCES'
        ? '; check file permissions, or run as another user'
        : '';
  return `cacheport ${what}: failed to start: ${message}${hint}`;
}

export function exitWithStartupFailure(what: string, error: unknown): never {
  process.stderr.write(startupFailureLine(what, error) + '\n');
  if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? '') && error instanceof Error && error.stack)
    process.stderr.write(error.stack + '\n');
  process.exit(1);
}
