/**
 * The first start imports PRODUCTS_FILE (1,000,000 ids). `kill -9` it twice:
 * once while the import transaction is being written (the WAL is growing but
 * nothing is committed), once right after the commit while the filter is being
 * filled. The database must hold all or nothing after each crash, and the
 * next start must end with every id found and /bloom/stats items == 1,000,000.
 * On both backends (PostgreSQL: the import is one COPY transaction).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { spreadSample, writeProductsFile } from '../helpers/products-file.js';
import { parseSamples } from '../helpers/prometheus-text.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { scatteredId } from '../helpers/ids.js';
import { ServerProcess, sleep } from '../helpers/server-process.js';
import { testDatabaseAdminUrl } from '../helpers/test-services.js';
import { waitFor } from '../helpers/wait-for.js';

const IDS = 1_000_000;
const SAMPLE = 2_000;
/** How long after the import transaction is seen open crash 1 comes (the transaction takes seconds). */
const KILL_INTO_IMPORT_MS = 700;
const START_TIMEOUT_MS = 120_000;

/** Ids in scattered index order, as real SKUs would be. */
function importedId(i: number): string {
  return scatteredId('IMP', i);
}

describe.each(BACKENDS)('kill -9 during the first import on $name', (backend) => {
  const namespace = uniqueNamespace('import');
  let redis: Redis;
  let server: ServerProcess;
  let database: BackendDatabase;
  let probes: ImportProbes;

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL);
    database = await backend.open();
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env: { BLOOM_CAPACITY: '1000000' }, ...database.serverOptions() });
    writeProductsFile(join(server.dir, 'products.txt'), IDS, importedId);
    probes = backend.name === 'sqlite' ? sqliteProbes(server.dbPath) : postgresProbes(database);
  });

  afterAll(async () => {
    await server?.dispose();
    await database?.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  /** waitFor with the server's log tail on failure; polls every 10 ms so the crashes land close to the moment. */
  async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
    const checkWhileRunning = async (): Promise<boolean> => {
      if (!server.isRunning) throw new Error(`the server exited while waiting for ${what}`);
      return check();
    };
    try {
      return Math.round(await waitFor(what, checkWhileRunning, timeoutMs, 10));
    } catch (err) {
      throw new Error(`${(err as Error).message}; log tail:\n${server.tail()}`);
    }
  }

  it('holds all or nothing after each crash, and the next start finds every id', { timeout: 300_000 }, async () => {
    const started = performance.now();
    await server.start({ PRODUCTS_FILE: join(server.dir, 'products.txt') });

    // Crash 1: mid-transaction, a seeded moment after the write lock is first seen held by an empty table.
    const openMs = await until('the import transaction to be open', START_TIMEOUT_MS, async () => (await probes.transactionOpen()) && (await probes.committedCount()) === 0);
    await sleep(KILL_INTO_IMPORT_MS);
    const stillOpen = await probes.transactionOpen();
    await server.kill9();
    const afterFirst = await database.summary();
    console.log(
      `[import-kill ${backend.name}] crash 1: import transaction open at ${openMs} ms after spawn, killed ${KILL_INTO_IMPORT_MS} ms later ` +
        `(still open: ${stillOpen}${probes.detail()}): database holds ${afterFirst.rows} rows`,
    );
    expect([0, IDS], 'all or nothing after a crash mid-import').toContain(afterFirst.rows);
    expect(afterFirst.metaCount ?? 0).toBe(afterFirst.rows);

    // Crash 2: right after the commit, while the filter is filled (before /health is 200).
    await server.start();
    let healthyBeforeKill = false;
    const commitMs = await until('the import to commit', START_TIMEOUT_MS, async () => (await probes.committedCount()) === IDS);
    try {
      healthyBeforeKill = (await server.health(200)).status === 200;
    } catch {
      // Not listening yet: the usual case.
    }
    await server.kill9();
    const afterSecond = await database.summary();
    console.log(`[import-kill ${backend.name}] crash 2 ${commitMs} ms after spawn, just after the commit (healthy already: ${healthyBeforeKill}): database holds ${afterSecond.rows} rows`);
    expect(afterSecond.rows).toBe(IDS);
    expect(afterSecond.metaCount).toBe(IDS);

    // The start that finishes the job.
    await server.start();
    const readyMs = await server.waitHealthy(START_TIMEOUT_MS);
    const stats = await server.stats();
    const loads = parseSamples(await server.metrics()).filter((s) => s.name === 'bloomgate_filter_loads_total' && s.value > 0);
    console.log(
      `[import-kill ${backend.name}] third start healthy in ${Math.round(readyMs)} ms (loads: ${loads.map((s) => `${s.labels['source']}=${s.value}`).join(', ')}); ` +
        `whole test so far ${Math.round(performance.now() - started)} ms`,
    );
    expect(stats.items).toBe(IDS);
    const sample = spreadSample(IDS, SAMPLE).map(importedId);
    expect(await idsNotFound(server, sample), 'false negatives after the crashed imports').toEqual([]);
    // And the filter is not simply saying yes: ids never imported are 404.
    const absent = await Promise.all(['IMP-absent-1', 'IMP-absent-2', 'IMP-absent-3'].map((id) => server.getProduct(id)));
    expect(absent.map((r) => r.status)).toEqual([404, 404, 404]);

    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    const final = await database.summary();
    expect(final.rows).toBe(IDS);
  });
});

/** How the test watches the import from outside the service, per backend. */
interface ImportProbes {
  /** True while the service's import transaction is open (uncommitted writes). */
  transactionOpen(): Promise<boolean>;
  /** The committed product count as another reader sees it; -1 before the schema exists. */
  committedCount(): Promise<number>;
  /** More for the log line (", WAL n bytes"). */
  detail(): string;
}

function sqliteProbes(dbPath: string): ImportProbes {
  return {
    // Only touches the file once it is in WAL mode (the -wal exists), so it never races the service's journal_mode switch.
    async committedCount() {
      if (!existsSync(`${dbPath}-wal`)) return -1;
      let db: Database.Database | undefined;
      try {
        db = new Database(dbPath, { readonly: true, fileMustExist: true });
        return (db.prepare('SELECT product_count FROM products_meta WHERE k = 0').pluck().get() as number | undefined) ?? -1;
      } catch {
        return -1;
      } finally {
        db?.close();
      }
    },
    // Another connection holds the write lock (the import transaction): BEGIN IMMEDIATE gets SQLITE_BUSY.
    async transactionOpen() {
      if (!existsSync(`${dbPath}-wal`)) return false;
      let db: Database.Database | undefined;
      try {
        db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        return false;
      } catch (err) {
        return (err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true;
      } finally {
        db?.close();
      }
    },
    detail() {
      try {
        return `, WAL ${statSync(`${dbPath}-wal`).size} bytes`;
      } catch {
        return ', no WAL';
      }
    },
  };
}

function postgresProbes(database: BackendDatabase): ImportProbes {
  const query = async (url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  const url = database.databaseUrl;
  if (url === undefined) throw new Error('postgresProbes needs a PostgreSQL database');
  const name = new URL(url).pathname.slice(1);
  return {
    async committedCount() {
      const rows = await query(url, "SELECT CASE WHEN to_regclass('public.products') IS NULL THEN -1 ELSE (SELECT count(*) FROM products) END AS n");
      return Number(rows[0]?.['n']);
    },
    // A session of the service with a transaction id (it wrote) running the COPY.
    async transactionOpen() {
      const rows = await query(
        testDatabaseAdminUrl(),
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_xid IS NOT NULL AND state = 'active' AND query ILIKE 'COPY%'",
        [name],
      );
      return Number(rows[0]?.['n']) > 0;
    },
    detail: () => '',
  };
}
