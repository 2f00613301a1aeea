import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The scale test runs on its own: `npm run test:scale` (vitest.scale.config.ts).
    exclude: ['**/node_modules/**', 'test/scale/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // 2 shared cores: more workers only add contention on Postgres and Redis.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
