#!/usr/bin/env node
/**
 * The `cacheport` command: serve | worker | migrate, --help, --version.
 * Every option is also an environment variable (--port 9000 = PORT=9000): the
 * options are derived from ENV in src/config.ts, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ENV_HELP, type EnvName } from './config.js';

const COMMANDS = {
  serve: 'run the HTTP server (and the cleanup worker unless WORKER=off)',
  worker: 'run the cleanup worker alone (beside servers started with WORKER=off)',
  migrate: 'apply the database migrations, then exit (run before rolling out a new version)',
} as const;
type Command = keyof typeof COMMANDS;

/** --cache-schema would be a mouthful: the CACHE_ prefix is dropped (CACHE_SCHEMA → --schema). */
export function optionName(variable: EnvName): string {
  return variable
    .replace(/^CACHE_/, '')
    .toLowerCase()
    .replaceAll('_', '-');
}

const VARIABLES = Object.keys(ENV_HELP) as EnvName[];

function packageVersion(): string {
  // src/cli.ts (tsx) and dist/src/cli.js (installed) sit at different depths.
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cacheport' && pkg.version) return pkg.version;
    } catch {
      // try the next level
    }
  }
  return 'unknown';
}

export function helpText(): string {
  const width = Math.max(...VARIABLES.map((v) => optionName(v).length + v.length)) + 8;
  const lines = [
    'Usage: cacheport <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(10)}${text}`),
    '',
    'Options (each is also an environment variable; the option wins):',
    ...VARIABLES.map((v) => `  ${`--${optionName(v)} (${v})`.padEnd(width)}${ENV_HELP[v]}`),
    `  ${'-h, --help'.padEnd(width)}this help`,
    `  ${'-v, --version'.padEnd(width)}print the version`,
    '',
    'Without DATABASE_URL an embedded PostgreSQL is started; its data and password live under CACHE_DATA_DIR',
    '(as root: the cluster in /var/lib/cacheport/clusters/<hash of CACHE_DATA_DIR>).',
  ];
  return lines.join('\n') + '\n';
}

function fail(message: string): never {
  process.stderr.write(`cacheport: ${message}\nRun cacheport --help for the commands and options.\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const options = Object.fromEntries(VARIABLES.map((v) => [optionName(v), { type: 'string' as const }]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return void process.stdout.write(helpText());
  if (values.version) return void process.stdout.write(`${packageVersion()}\n`);
  const [command, ...extra] = parsed.positionals;
  if (command === undefined) return void process.stdout.write(helpText());
  if (!(command in COMMANDS)) fail(`unknown command ${JSON.stringify(command)} (expected ${Object.keys(COMMANDS).join(', ')})`);
  if (extra.length > 0) fail(`unexpected argument ${JSON.stringify(extra[0])}`);
  for (const variable of VARIABLES) {
    const value = values[optionName(variable)];
    if (typeof value === 'string') process.env[variable] = value;
  }
  await run(command as Command);
}

async function run(command: Command): Promise<void> {
  // Imported on demand: --help must not load the database drivers.
  if (command === 'serve') (await import('./serve.js')).runServeCommand();
  else if (command === 'worker') (await import('../jobs/worker-command.js')).runWorkerCommand();
  else (await import('./migrate-command.js')).runMigrateCommand();
}

void main(process.argv.slice(2));
