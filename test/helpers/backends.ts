/**
 * The durability and integration tests run once per product-database backend
 * (SQLite, the embedded default, and PostgreSQL by DATABASE_URL), asserting the
 * same promises. Each test takes a database of its own from `backend.open()`:
 * a temp dir (the SQLite file, PRODUCTS_FILE, anything else the test writes)
 * plus, on PostgreSQL, a fresh database; `drop()` removes both.
 *
 * The inspect helpers let a test look at (or change) the database behind the
 * service's back on either backend: count rows, list ids, insert or delete a
 * row, read the greatest position, back up and restore. On SQLite, reads work
 * on a copy of the file and its WAL (see products-db.ts), so a test never
 * repairs what the next start must recover by itself.
 *
 * TEST_BACKENDS=sqlite (or postgres) narrows a local run to one backend.
 *
 * @example
 *   describe.each(BACKENDS)('restart replay on $name', (backend) => {
 *     let db: BackendDatabase;
 *     beforeAll(async () => { db = await backend.open(); });
 *     afterAll(() => db.drop());
 *     it('...', async () => {
 *       const server = new ServerProcess({ redisUrl, namespace, ...db.serverOptions() });
 *       ...
 *       await db.insertProducts(['LATE-1']);
 *       expect((await db.summary()).rows).toBe(2);
 *     });
 *   });
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresProductStore } from '../../src/store/postgres-product-store.js';
import { admin, createTestDatabase } from './postgres-database.js';
import { allIds as sqliteAllIds, createSchema, inspectDatabase, insertProducts as sqliteInsert, withDatabaseCopy } from './products-db.js';
import { testDatabaseAdminUrl } from './test-services.js';
import { waitFor } from './wait-for.js';

export type BackendName = 'sqlite' | 'postgres';

export interface BackendSummary {
  /** SELECT count(*) FROM products */
  readonly rows: number;
  /** The count the schema keeps by triggers (SQLite products_meta, PostgreSQL the sum of product_count_deltas); null without a schema. */
  readonly metaCount: number | null;
  /** The greatest position of a row (SQLite: rowid; PostgreSQL: the inserting transaction id); 0 when empty. */
  readonly maxPosition: number;
  /**
   * What the store's horizon() answers now: every row below it is committed.
   * SQLite: one past the last rowid handed out. PostgreSQL: the oldest
   * transaction still running anywhere on the server (other databases too), so
   * it may lie below rows that committed long ago while other work runs.
   */
  readonly horizon: number;
}

export interface BackendDatabase {
  readonly backend: BackendName;
  /** Holds the SQLite file (products.db, the service's default DB_PATH) and whatever else the test writes. */
  readonly dir: string;
  /** The SQLite file's path (unused on PostgreSQL). */
  readonly dbPath: string;
  /** DATABASE_URL for the service; undefined on SQLite. */
  readonly databaseUrl: string | undefined;
  /** `{ dir, databaseUrl }` for ServerProcess; for startTestService pass `db.dir` and `{ databaseUrl: db.databaseUrl }`. */
  serverOptions(): { dir: string; databaseUrl?: string };
  summary(): Promise<BackendSummary>;
  /** Every id, in position order. */
  allIds(): Promise<string[]>;
  /** The service's schema in a database no service has opened yet (as another tool would find it). */
  createSchema(): Promise<void>;
  /** Inserts rows in one transaction, as a second writer would. */
  insertProducts(ids: readonly string[]): Promise<void>;
  /** Deletes one row behind the service's back; true if it existed. */
  deleteProduct(id: string): Promise<boolean>;
  /** Keeps a copy of the database as it is now (the service must be stopped). */
  backup(): Promise<void>;
  /** Replaces the database by the copy backup() kept, as an operator restoring last night's backup would. */
  restoreBackup(): Promise<void>;
  /**
   * After the service exited: did it leave the database closed? SQLite: no WAL
   * file (closing checkpoints it away); PostgreSQL: no session on the database
   * any more (waits a little: a server process ends just after its client).
   */
  closedCleanly(): Promise<boolean>;
  /** Removes the dir and, on PostgreSQL, the database and its backup. Safe to call twice. */
  drop(): Promise<void>;
}

export interface Backend {
  readonly name: BackendName;
  open(): Promise<BackendDatabase>;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bloomgate-backend-'));
}

const sqlite: Backend = {
  name: 'sqlite',
  async open(): Promise<BackendDatabase> {
    const dir = tempDir();
    const dbPath = join(dir, 'products.db');
    const backupPath = join(dir, 'backup.db');
    const files = (path: string): string[] => ['', '-wal', '-shm'].map((suffix) => path + suffix);
    return {
      backend: 'sqlite',
      dir,
      dbPath,
      databaseUrl: undefined,
      serverOptions: () => ({ dir }),
      summary: async () => {
        const s = inspectDatabase(dbPath);
        const sequence = withDatabaseCopy(dbPath, (db) => {
          try {
            return db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'products'").pluck().get() as number | undefined;
          } catch {
            return undefined; // no AUTOINCREMENT table yet
          }
        });
        return { rows: s.rows, metaCount: s.metaCount, maxPosition: s.maxSeq, horizon: (sequence ?? s.maxSeq) + 1 };
      },
      allIds: async () => sqliteAllIds(dbPath),
      createSchema: async () => createSchema(dbPath),
      insertProducts: async (ids) => sqliteInsert(dbPath, ids),
      deleteProduct: async (id) => {
        const db = new Database(dbPath);
        try {
          db.pragma('busy_timeout = 5000');
          return db.prepare('DELETE FROM products WHERE id = ?').run(id).changes === 1;
        } finally {
          db.close();
        }
      },
      backup: async () => {
        // After a clean shutdown the WAL is checkpointed away; copy it anyway in case it is not.
        withDatabaseCopy(dbPath, (db) => db.exec(`VACUUM INTO '${backupPath.replaceAll("'", "''")}'`));
      },
      restoreBackup: async () => {
        for (const f of files(dbPath)) if (existsSync(f)) rmSync(f);
        copyFileSync(backupPath, dbPath);
      },
      closedCleanly: async () => !existsSync(`${dbPath}-wal`),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const postgres: Backend = {
  name: 'postgres',
  async open(): Promise<BackendDatabase> {
    const dir = tempDir();
    const db = await createTestDatabase();
    // The test database's name is a checked identifier (see postgres-database.ts); so is this one.
    const backupName = `${db.name}_bk`;
    let hasBackup = false;
    let dropped = false;
    return {
      backend: 'postgres',
      dir,
      dbPath: join(dir, 'products.db'),
      databaseUrl: db.url,
      serverOptions: () => ({ dir, databaseUrl: db.url }),
      summary: () =>
        withClient(db.url, async (c) => {
          const hasTable = (await c.query<{ t: string | null }>("SELECT to_regclass('public.products')::text AS t")).rows[0]?.t != null;
          const horizon = Number((await c.query<{ xid: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xid')).rows[0]?.xid);
          if (!hasTable) return { rows: 0, metaCount: null, maxPosition: 0, horizon };
          const { rows } = await c.query<{ rows: string; meta: string | null; max: string | null }>(
            `SELECT (SELECT count(*) FROM products)::text AS rows,
                    (SELECT coalesce(sum(delta), 0) FROM product_count_deltas)::text AS meta,
                    (SELECT max(xid)::text FROM products) AS max`,
          );
          const r = rows[0]!;
          return { rows: Number(r.rows), metaCount: r.meta === null ? null : Number(r.meta), maxPosition: r.max === null ? 0 : Number(r.max), horizon };
        }),
      allIds: () => withClient(db.url, async (c) => (await c.query<{ id: string }>('SELECT id FROM products ORDER BY xid, seq')).rows.map((r) => r.id)),
      createSchema: async () => {
        // The migrations the service runs at start, applied by opening the store once.
        const store = await PostgresProductStore.open({ url: db.url, poolSize: 1 });
        await store.close();
      },
      insertProducts: (ids) =>
        withClient(db.url, async (c) => {
          await c.query("INSERT INTO products (id, name, price) SELECT id, 'Direct ' || id, 1.5 FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY n", [ids]);
        }),
      deleteProduct: (id) => withClient(db.url, async (c) => ((await c.query('DELETE FROM products WHERE id = $1', [id])).rowCount ?? 0) === 1),
      backup: async () => {
        await admin(`DROP DATABASE IF EXISTS ${backupName} WITH (FORCE)`);
        // A template must have no other connections: the service is stopped, the pool closed.
        await admin(`CREATE DATABASE ${backupName} TEMPLATE ${db.name}`);
        hasBackup = true;
      },
      restoreBackup: async () => {
        if (!hasBackup) throw new Error('restoreBackup() before backup()');
        await admin(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
        await admin(`CREATE DATABASE ${db.name} TEMPLATE ${backupName}`);
      },
      closedCleanly: async () => {
        const sessions = (): Promise<number> =>
          withClient(testDatabaseAdminUrl(), async (c) => Number((await c.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1', [db.name])).rows[0]?.n));
        return waitFor('no session on the database', async () => (await sessions()) === 0, 5_000).then(
          () => true,
          () => false,
        );
      },
      drop: async () => {
        if (dropped) return;
        dropped = true;
        await db.drop();
        if (hasBackup) await admin(`DROP DATABASE IF EXISTS ${backupName} WITH (FORCE)`);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const ALL: readonly Backend[] = [sqlite, postgres];

function selected(): readonly Backend[] {
  const wanted = (process.env['TEST_BACKENDS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (wanted.length === 0) return ALL;
  const unknown = wanted.filter((w) => !ALL.some((b) => b.name === w));
  if (unknown.length > 0) throw new Error(`TEST_BACKENDS names unknown backends ${JSON.stringify(unknown)}; known: sqlite, postgres`);
  return ALL.filter((b) => wanted.includes(b.name));
}

/** The backends this run covers: both, unless TEST_BACKENDS narrows it. For `describe.each(BACKENDS)('... on $name', ...)`. */
export const BACKENDS: readonly Backend[] = selected();
