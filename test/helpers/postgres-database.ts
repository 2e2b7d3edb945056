/**
 * A fresh PostgreSQL database per test: `CREATE DATABASE` with a random name on
 * the server the test setup chose (see test/helpers/test-services.ts), and
 * `DROP DATABASE ... WITH (FORCE)` at the end, which also ends connections the
 * code under test forgot to close. Tests never share a database, so they may
 * run in parallel and leave nothing behind.
 *
 * @example
 *   let db: TestDatabase;
 *   beforeEach(async () => { db = await createTestDatabase(); });
 *   afterEach(() => db.drop());
 *   // ... open the store with db.url
 *
 *   // or, inside one test:
 *   const db = await createTestDatabase();
 *   onTestFinished(() => db.drop());
 */
import pg from 'pg';
import { uniqueSuffix } from './ids.js';
import { testDatabaseAdminUrl } from './test-services.js';

export interface TestDatabase {
  /** Connection URL of the new, empty database. */
  readonly url: string;
  /** Its name: `<prefix>_<12 hex digits>`, a valid unquoted identifier. */
  readonly name: string;
  /** Drops the database, ending any open connections to it. Safe to call twice. */
  drop(): Promise<void>;
}

const PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

/** Runs one statement on the maintenance database (CREATE / DROP DATABASE), on a connection of its own. */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseAdminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The admin URL with its database name replaced by `name`. */
function urlFor(name: string): string {
  const url = new URL(testDatabaseAdminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database with a name no other test (or run) uses. */
export async function createTestDatabase(prefix = 'bloomgate_test'): Promise<TestDatabase> {
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`prefix must match ${PREFIX_PATTERN}, got ${JSON.stringify(prefix)}`);
  const name = `${prefix}_${uniqueSuffix()}`;
  // The name is built from a checked prefix and hex digits, so it needs no quoting.
  await admin(`CREATE DATABASE ${name}`);
  let dropped = false;
  return {
    url: urlFor(name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
