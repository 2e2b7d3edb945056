/**
 * Runs once per `vitest run`, before any test process starts: makes sure the
 * tests have a Redis and a PostgreSQL, and exports their URLs as
 * `TEST_REDIS_URL` and `TEST_DATABASE_URL` (test processes inherit the
 * environment; tests read them through test/helpers/test-services.ts).
 *
 * - Redis: `TEST_REDIS_URL` when given; otherwise a private redis-server on a
 *   free port for this run, so a fresh machine needs no server on 6379.
 * - PostgreSQL: `TEST_DATABASE_URL` when given; otherwise the system server at
 *   127.0.0.1:5432 if it answers; otherwise a private cluster for this run.
 *
 * A missing server binary fails the run at once, in one line saying what to install.
 */
import pg from 'pg';
import { findBinary } from './helpers/find-binary.js';
import { findPostgresBinaries, startPrivatePostgres } from './helpers/private-postgres.js';
import { startPrivateRedis } from './helpers/private-redis.js';
import { DEFAULT_TEST_DATABASE_URL } from './helpers/test-services.js';

type Teardown = () => Promise<void>;

/** An Error whose printed form is its message alone: the fix, not a stack. */
function setupError(message: string): Error {
  const err = new Error(message);
  err.stack = message;
  return err;
}

function log(line: string): void {
  process.stderr.write(`[test setup] ${line}\n`);
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function provideRedis(teardowns: Teardown[]): Promise<void> {
  const given = process.env['TEST_REDIS_URL'];
  if (given) {
    log(`Redis: ${given} (TEST_REDIS_URL)`);
    return;
  }
  if (findBinary('redis-server') === null) {
    throw setupError('redis-server not found: install it (Debian: apt-get install redis-server) or set TEST_REDIS_URL');
  }
  const redis = await startPrivateRedis();
  teardowns.push(() => redis.stop());
  process.env['TEST_REDIS_URL'] = redis.url;
  log(`Redis: private redis-server at ${redis.url} for this run`);
}

async function providePostgres(teardowns: Teardown[]): Promise<void> {
  const given = process.env['TEST_DATABASE_URL'];
  if (given) {
    log(`PostgreSQL: ${given} (TEST_DATABASE_URL)`);
    return;
  }
  if (await postgresAnswers(DEFAULT_TEST_DATABASE_URL)) {
    process.env['TEST_DATABASE_URL'] = DEFAULT_TEST_DATABASE_URL;
    log(`PostgreSQL: ${DEFAULT_TEST_DATABASE_URL} (system server)`);
    return;
  }
  if (findPostgresBinaries() === null) {
    throw setupError('PostgreSQL not found on 127.0.0.1:5432 nor initdb/pg_ctl: install it (Debian: apt-get install postgresql) or set TEST_DATABASE_URL');
  }
  const cluster = await startPrivatePostgres();
  teardowns.push(() => cluster.stop());
  process.env['TEST_DATABASE_URL'] = cluster.url;
  log(`PostgreSQL: private cluster at ${cluster.url} for this run`);
}

export default async function setup(): Promise<Teardown> {
  const teardowns: Teardown[] = [];
  const teardown = async (): Promise<void> => {
    // Reverse order of start.
    for (const stop of teardowns.reverse()) await stop();
  };
  try {
    await provideRedis(teardowns);
    await providePostgres(teardowns);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
