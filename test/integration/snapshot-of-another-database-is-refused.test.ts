/**
 * Promise 3 ("foreign state is never trusted") and promise 1 ("whatever
 * happened in between"), for a snapshot that does not belong to the database
 * the service now runs on:
 *
 * - the database was restored from an older backup: the snapshot in Redis has
 *   a watermark above every rowid the database has, so rows written after the
 *   restore get rowids at or below that watermark, and a restart that trusts
 *   the snapshot never replays them;
 * - another database with the same HASH_SEED (a refreshed staging copy, a
 *   re-created file): the snapshot's bits describe other ids entirely.
 *
 * Either way the service must not restore that snapshot, or must replay from
 * the database's own state, so that every id in the database is found.
 *
 * On both backends. A PostgreSQL backup is a `CREATE DATABASE ... TEMPLATE`
 * clone restored under the original name; transaction ids are cluster-wide, so
 * there the restored database's horizon is already past the snapshot's
 * watermark and only the watermark row check can tell (watermark_row_changed).
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { metricValue, parseSamples } from '../helpers/prometheus-text.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { checkSnapshot, readSnapshot } from '../helpers/redis-snapshot.js';
import { ServerProcess } from '../helpers/server-process.js';

/** An hour: no periodic save, so which snapshot is in Redis is decided by the test, not by timing. */
const NO_PERIODIC_SNAPSHOT = '3600000';

async function postBatch(server: ServerProcess, ids: readonly string[]): Promise<void> {
  const res = await server.request('POST', '/products/batch', { body: { products: ids.map((id) => ({ id, name: 'x', price: 1 })) } });
  expect(res.status, res.text).toBe(200);
  expect((res.body as { created: number }).created).toBe(ids.length);
}

function loadSources(metrics: string): string {
  return parseSamples(metrics)
    .filter((s) => s.name === 'bloomgate_filter_loads_total' && s.value > 0)
    .map((s) => `${s.labels['source']}=${s.value}`)
    .join(', ');
}

/** The origin-check reasons a restored backup may be refused with (see src/persistence/snapshot-origin.ts). */
function backupRefusals(metrics: string): string[] {
  return ['ahead_of_database', 'watermark_row_changed'].filter((reason) => metricValue(metrics, 'bloomgate_snapshot_rejected_total', { reason }) > 0);
}

describe.each(BACKENDS)('a snapshot of another database is not trusted on $name', (backend) => {
  let redis: Redis;
  let server: ServerProcess;
  let namespace: string;
  const databases: BackendDatabase[] = [];
  const openDatabase = async (): Promise<BackendDatabase> => {
    const db = await backend.open();
    databases.push(db);
    return db;
  };

  /**
   * Serves `db` (as `server`): writes OLD-* ids, backs the database up while
   * stopped, then writes LOST-* ids the backup lacks. Returns the OLD ids and
   * the watermark of the snapshot left in Redis, which describes the later database.
   */
  const backupThenWriteMore = async (db: BackendDatabase): Promise<{ old: string[]; snapshotWatermark: number | undefined }> => {
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env: { SNAPSHOT_INTERVAL_MS: NO_PERIODIC_SNAPSHOT }, ...db.serverOptions() });
    await server.start();
    await server.waitHealthy();
    const old = Array.from({ length: 1_000 }, (_, i) => `OLD-${i}`);
    await postBatch(server, old);
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    await db.backup();

    await server.start();
    await server.waitHealthy();
    await postBatch(server, Array.from({ length: 1_000 }, (_, i) => `LOST-${i}`));
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    return { old, snapshotWatermark: checkSnapshot(await readSnapshot(redis, namespace)).header?.watermark };
  };

  beforeEach(() => {
    redis = new Redis(SHARED_REDIS_URL);
    namespace = uniqueNamespace('foreign');
  });

  afterEach(async () => {
    await server?.dispose();
    for (const db of databases.splice(0)) await db.drop();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  it('finds rows written after the database was restored from an older backup, across a crash', { timeout: 90_000 }, async () => {
    const db = await openDatabase();
    const { snapshotWatermark } = await backupThenWriteMore(db);

    // The disk dies; the operator restores last night's backup and starts the service.
    await db.restoreBackup();
    const restored = await db.summary();
    await server.start();
    await server.waitHealthy();
    const firstMetrics = await server.metrics();
    const firstLoad = loadSources(firstMetrics);
    expect(backupRefusals(firstMetrics), 'the snapshot of the later database is refused').toHaveLength(1);
    const fresh = Array.from({ length: 100 }, (_, i) => `AFTER-RESTORE-${i}`);
    for (const id of fresh) expect((await server.postProduct({ id, name: 'after', price: 2 })).status).toBe(201);
    expect(await idsNotFound(server, fresh), 'found while this process runs').toEqual([]);

    await server.kill9(); // before the next periodic snapshot
    await server.start();
    await server.waitHealthy();
    const secondLoad = loadSources(await server.metrics());
    const misses = await idsNotFound(server, fresh);
    console.log(
      `[foreign-backup ${backend.name}] snapshot watermark ${snapshotWatermark}, restored database max position ${restored.maxPosition}; ` +
        `refused as ${backupRefusals(firstMetrics).join()}; ` +
        `loads: after the restore ${firstLoad}, after the crash ${secondLoad}; ${misses.length} of ${fresh.length} acknowledged ids not found`,
    );
    expect(misses.slice(0, 5), `ids created after the backup restore, after a kill -9 (${misses.length} not found)`).toEqual([]);
  });

  it('refuses the snapshot when the restored database grew past its watermark before the start', { timeout: 90_000 }, async () => {
    const db = await openDatabase();
    const { old, snapshotWatermark } = await backupThenWriteMore(db);
    const watermark = snapshotWatermark ?? Number.NaN;

    // The backup is restored, and another writer fills it past the snapshot's watermark before
    // bloomgate starts: the watermark alone no longer looks "ahead", only its row tells.
    await db.restoreBackup();
    const grown = Array.from({ length: 1_100 }, (_, i) => `GROWN-${i}`);
    await db.insertProducts(grown);
    expect((await db.summary()).maxPosition, 'the restored database grew past the watermark').toBeGreaterThanOrEqual(watermark);
    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(backupRefusals(metrics), `refusals; loads: ${loadSources(metrics)}`).toEqual(['watermark_row_changed']);
    expect(await idsNotFound(server, [...grown, ...old]), 'every id of the restored and grown database').toEqual([]);
  });

  it('refuses the snapshot of another database that shares HASH_SEED', { timeout: 90_000 }, async () => {
    const env = { SNAPSHOT_INTERVAL_MS: NO_PERIODIC_SNAPSHOT, HASH_SEED: '424242' };
    const first = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env, ...(await openDatabase()).serverOptions() });
    try {
      await first.start();
      await first.waitHealthy();
      await postBatch(first, Array.from({ length: 1_000 }, (_, i) => `FIRST-DB-${i}`));
      expect(await first.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    } finally {
      await first.dispose();
    }

    // Another database (a refreshed staging copy, a re-created file), written by another tool,
    // then served under the same namespace and seed.
    const other = await openDatabase();
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env, ...other.serverOptions() });
    const second = Array.from({ length: 1_000 }, (_, i) => `SECOND-DB-${i}`);
    await other.createSchema();
    await other.insertProducts(second);
    await server.start();
    await server.waitHealthy();
    const load = loadSources(await server.metrics());
    const misses = await idsNotFound(server, second);
    console.log(`[foreign-seed ${backend.name}] loads: ${load}; ${misses.length} of ${second.length} ids of this database not found`);
    expect(misses.slice(0, 5), `this database's ids, with another database's snapshot in Redis (${misses.length} not found)`).toEqual([]);
  });
});
