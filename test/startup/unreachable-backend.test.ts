/**
 * Startup against a backend that is not there (yet): the real server process
 * retries with backoff up to STARTUP_TIMEOUT, one log line per attempt naming
 * the variable and never the password, then exits 1 with one line.
 */
import { describe, expect, it } from 'vitest';
import { closedTcpPort } from '../support/contract-unreachable.js';
import { runServerUntilExit } from '../support/fault-server.js';

const PASSWORD = 'hunter2-never-logged';

function stderrLines(output: string): string[] {
  return output.split('\n').filter((line) => line.startsWith('cacheport serve:'));
}

describe('startup waits for the backend, bounded by STARTUP_TIMEOUT', () => {
  it.each([
    ['DATABASE_URL', (port: number) => ({ DATABASE_URL: `postgres://app:${PASSWORD}@127.0.0.1:${port}/app` })],
    ['REDIS_URL', (port: number) => ({ CACHE_BACKEND: 'redis', REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}` })],
  ] as const)(
    '%s on a closed port: one line per attempt, then one line and exit 1',
    async (variable, env) => {
      const port = await closedTcpPort();
      const { code, output } = await runServerUntilExit({ ...env(port), STARTUP_TIMEOUT: '2s' }, 60_000);
      expect(code).toBe(1);
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toMatch(/\n\s+at /); // no stack trace

      const waits = output.split('\n').filter((line) => line.includes(`waiting for ${variable}`));
      expect(waits.length).toBeGreaterThanOrEqual(2);
      for (const line of waits) expect(JSON.parse(line)).toMatchObject({ waitingFor: variable });

      const final = stderrLines(output);
      expect(final).toHaveLength(1);
      expect(final[0]).toContain(`${variable} (`);
      expect(final[0]).toContain('not reachable after 2 s');
      expect(final[0]).toContain('STARTUP_TIMEOUT');
    },
    90_000,
  );

  it('a refusal that waiting cannot fix (unknown role) fails at once with one line', async () => {
    const { code, output } = await runServerUntilExit(
      { DATABASE_URL: `postgres://no_such_role:${PASSWORD}@127.0.0.1:5432/test`, STARTUP_TIMEOUT: '60s' },
      60_000,
    );
    expect(code).toBe(1);
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain('waiting for');
    expect(stderrLines(output)).toEqual([
      expect.stringContaining('DATABASE_URL (postgres://no_such_role:***@127.0.0.1:5432/test) refused'),
    ]);
  }, 90_000);

  it('several invalid variables: one line naming all of them', async () => {
    const { code, output } = await runServerUntilExit({ PORT: 'eighty', LOG_LEVEL: 'loud', STARTUP_TIMEOUT: 'later' }, 60_000);
    expect(code).toBe(1);
    const final = stderrLines(output);
    expect(final).toHaveLength(1);
    for (const variable of ['PORT', 'LOG_LEVEL', 'STARTUP_TIMEOUT']) expect(final[0]).toContain(`${variable}:`);
  }, 60_000);
});
