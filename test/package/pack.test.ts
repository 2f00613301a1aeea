/**
 * The published package, as a user gets it: `npm pack` (prepack builds dist/),
 * install the tarball into an empty project, import it from plain .mjs (no tsx),
 * run `npx cacheport --help`; `cacheport/keyv` works without keyv (an optional
 * peer) installed. Also: the tarball holds no test/, bench/ or .ci/.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL } from '../support/services.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMA = `cp_pack_${process.pid}`;
/** Without the npm_config_* variables of an enclosing `npm test` / npx (they would leak this project's .npmrc). */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));

describe('npm pack → npm install → import', () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    const { default: postgres } = await import('postgres');
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await sql.end();
  });

  it('installs from the tarball, imports from plain JavaScript and runs the cacheport command', { timeout: 300_000 }, async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cacheport-pack-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: ROOT,
      env: CLEAN_ENV,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((file) => file.path);
    expect(files.filter((file) => /^(test|bench|\.ci)\//.test(file))).toEqual([]);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/src/cli.js');
    expect(files).toContain('dist/src/http-adapter.js');
    expect(files).toContain('dist/src/http-adapter.d.ts');
    expect(files.some((file) => file.startsWith('dist/drizzle/') && file.endsWith('.sql'))).toBe(true);

    const project = path.join(work, 'app');
    await run('mkdir', ['-p', project]);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run('npm', ['install', path.join(work, info.filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: project,
      env: CLEAN_ENV,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(await readdir(path.join(project, 'node_modules', 'cacheport', 'dist', 'src'))).toContain('postgres.js');
    // keyv is an optional peer dependency: not installed, and cacheport/keyv must work without it.
    expect(await readdir(path.join(project, 'node_modules'))).not.toContain('keyv');

    await writeFile(
      path.join(project, 'use.mjs'),
      `import { openPort, ValidationError } from 'cacheport';
import { createRedisPort } from 'cacheport/redis';
import { createHttpPort } from 'cacheport/http';
import { runMigrations } from 'cacheport/postgres';
import { KeyvCacheport } from 'cacheport/keyv';
const port = await openPort(process.env.PG_URL, { schema: process.env.SCHEMA, poolMax: 2 });
await port.set('pack', 'greeting', 'hello from the tarball');
const entry = await port.get('pack', 'greeting');
const store = new KeyvCacheport({ port, namespace: 'pack' });
await store.set('ns:k', 'keyv store without keyv installed', 60000);
const keyv = await store.get('ns:k');
await store.disconnect();
let typed = 'none';
try { await openPort('redis://127.0.0.1:6379', { schema: 'x' }); } catch (error) { typed = error instanceof ValidationError ? error.message : 'other'; }
console.log(JSON.stringify({ value: new TextDecoder().decode(entry.value), keyv, typed, redis: typeof createRedisPort, http: typeof createHttpPort, migrations: typeof runMigrations }));
`,
    );
    const used = await run(process.execPath, ['use.mjs'], { cwd: project, env: { PATH: process.env.PATH ?? '', PG_URL, SCHEMA } });
    expect(JSON.parse(used.stdout.trim())).toEqual({
      value: 'hello from the tarball',
      keyv: 'keyv store without keyv installed',
      typed: 'schema: applies to postgres URLs only, not redis',
      redis: 'function',
      http: 'function',
      migrations: 'function',
    });

    const help = await run('npx', ['--no-install', 'cacheport', '--help'], { cwd: project, env: CLEAN_ENV });
    for (const word of ['serve', 'worker', 'migrate', 'DATABASE_URL', 'STARTUP_TIMEOUT', 'CACHE_DATA_DIR'])
      expect(help.stdout).toContain(word);
    const version = await run('npx', ['--no-install', 'cacheport', '--version'], { cwd: project, env: CLEAN_ENV });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
