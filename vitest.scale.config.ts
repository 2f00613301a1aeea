import { defineConfig } from 'vitest/config';

/**
 * `npm run test:scale`: the scale test (test/scale), kept out of `npm test`.
 * One file at a time: each topology starts three server processes, HAProxy
 * and its backend on a machine of 2 shared cores.
 */
export default defineConfig({
  test: {
    include: ['test/scale/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default'],
  },
});
