import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Kept under test/ because the project's top level is fixed (see README).
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // Redis and PostgreSQL for the run (private servers unless TEST_REDIS_URL /
    // TEST_DATABASE_URL are given); see test/global-setup.ts.
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: the server under test loads uWebSockets.js and starts
    // its own piscina pool; a process per file keeps native state apart.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
