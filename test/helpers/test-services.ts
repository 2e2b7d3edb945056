/**
 * Where the tests find Redis and PostgreSQL. `test/global-setup.ts` decides once
 * per run (a URL from the environment, the system server, or a private server it
 * started) and exports the answer in `TEST_REDIS_URL` / `TEST_DATABASE_URL`
 * before any test process starts, so every test file reads the same URLs here.
 * Outside vitest (a script importing a helper) the defaults are the local
 * servers on their standard ports.
 *
 * @example
 *   const conn = RedisConnection.open({ url: testRedisUrl(), commandTimeoutMs: 500 });
 */

/** Standard local Redis, used when no test setup chose another. */
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';
/** Standard local PostgreSQL (maintenance database), used when no test setup chose another. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The Redis every non-destructive test shares (each in its own namespace). */
export function testRedisUrl(): string {
  return process.env['TEST_REDIS_URL'] || DEFAULT_TEST_REDIS_URL;
}

/**
 * The PostgreSQL maintenance database URL (a superuser connection that may
 * CREATE and DROP databases). Tests do not use it directly: they take a fresh
 * database from test/helpers/postgres-database.ts.
 */
export function testDatabaseAdminUrl(): string {
  return process.env['TEST_DATABASE_URL'] || DEFAULT_TEST_DATABASE_URL;
}
