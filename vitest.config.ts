import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2 shared cores: more workers only add contention on Postgres and Redis.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
