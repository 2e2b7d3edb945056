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
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { createSchema, inspectDatabase, insertProducts } from '../helpers/products-db.js';
import { parseSamples } from '../helpers/prometheus-text.js';
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

describe('a snapshot of another database is not trusted', () => {
  let redis: Redis;
  let server: ServerProcess;
  let namespace: string;

  beforeEach(() => {
    redis = new Redis(SHARED_REDIS_URL);
    namespace = uniqueNamespace('foreign');
  });

  afterEach(async () => {
    await server?.dispose();
    await deleteNamespaceKeys(redis, namespace);
    await redis.quit();
  });

  it('finds rows written after the database was restored from an older backup, across a crash', { timeout: 90_000 }, async () => {
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env: { SNAPSHOT_INTERVAL_MS: NO_PERIODIC_SNAPSHOT } });
    const backup = join(server.dir, 'backup.db');
    await server.start();
    await server.waitHealthy();
    await postBatch(server, Array.from({ length: 1_000 }, (_, i) => `OLD-${i}`));
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    copyFileSync(server.dbPath, backup); // a clean shutdown checkpointed the WAL: the file is the whole database

    await server.start();
    await server.waitHealthy();
    await postBatch(server, Array.from({ length: 1_000 }, (_, i) => `LOST-${i}`));
    expect(await server.exitAfterSigterm()).toEqual({ code: 0, signal: null });
    const snapshotWatermark = checkSnapshot(await readSnapshot(redis, namespace)).header?.watermark;

    // The disk dies; the operator restores last night's backup and starts the service.
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(server.dbPath + suffix)) rmSync(server.dbPath + suffix);
    copyFileSync(backup, server.dbPath);
    const restored = inspectDatabase(server.dbPath);
    await server.start();
    await server.waitHealthy();
    const firstLoad = loadSources(await server.metrics());
    const fresh = Array.from({ length: 100 }, (_, i) => `AFTER-RESTORE-${i}`);
    for (const id of fresh) expect((await server.postProduct({ id, name: 'after', price: 2 })).status).toBe(201);
    expect(await idsNotFound(server, fresh), 'found while this process runs').toEqual([]);

    await server.kill9(); // before the next periodic snapshot
    await server.start();
    await server.waitHealthy();
    const secondLoad = loadSources(await server.metrics());
    const misses = await idsNotFound(server, fresh);
    console.log(
      `[foreign-backup] snapshot watermark ${snapshotWatermark}, restored database max seq ${restored.maxSeq}; ` +
        `loads: after the restore ${firstLoad}, after the crash ${secondLoad}; ${misses.length} of ${fresh.length} acknowledged ids not found`,
    );
    expect(misses.slice(0, 5), `ids created after the backup restore, after a kill -9 (${misses.length} not found)`).toEqual([]);
  });

  it('refuses the snapshot of another database that shares HASH_SEED', { timeout: 90_000 }, async () => {
    const env = { SNAPSHOT_INTERVAL_MS: NO_PERIODIC_SNAPSHOT, HASH_SEED: '424242' };
    const first = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env });
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
    server = new ServerProcess({ redisUrl: SHARED_REDIS_URL, namespace, env });
    const second = Array.from({ length: 1_000 }, (_, i) => `SECOND-DB-${i}`);
    createSchema(server.dbPath);
    insertProducts(server.dbPath, second);
    await server.start();
    await server.waitHealthy();
    const load = loadSources(await server.metrics());
    const misses = await idsNotFound(server, second);
    console.log(`[foreign-seed] loads: ${load}; ${misses.length} of ${second.length} ids of this database not found`);
    expect(misses.slice(0, 5), `this database's ids, with another database's snapshot in Redis (${misses.length} not found)`).toEqual([]);
  });
});
