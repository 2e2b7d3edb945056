/**
 * Promise 4: Redis losing its data is noticed. A FLUSHALL under the running
 * service must be followed, within seconds and with no restart, by a complete
 * snapshot again, so a crash right after restores instead of rebuilding; and a
 * Redis emptied while the service is down leads to a rebuild from the
 * database. In both cases no id is lost. On both backends.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { spreadSample, writeProductsFile } from '../helpers/products-file.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { uniqueNamespace } from '../helpers/redis-namespace.js';
import { checkSnapshot, readSnapshot, snapshotKey } from '../helpers/redis-snapshot.js';
import { ServerProcess } from '../helpers/server-process.js';
import { waitForValue } from '../helpers/wait-for.js';

const IMPORTED = 20_000;
const SAMPLE = 2_000;
/** "Within seconds": the default SNAPSHOT_INTERVAL_MS is 1 s, so 10 s is generous. */
const RESNAPSHOT_WITHIN_MS = 10_000;

describe.each(BACKENDS)('FLUSHALL under a running service on $name', (backend) => {
  const namespace = uniqueNamespace('flush');
  let redis: PrivateRedis;
  let client: Redis;
  let server: ServerProcess;
  let database: BackendDatabase;
  let idOf: (i: number) => string;
  const posted: string[] = [];

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url);
    // The default snapshot interval: the promise is "within seconds" as shipped.
    database = await backend.open();
    server = new ServerProcess({ redisUrl: redis.url, namespace, env: { SNAPSHOT_INTERVAL_MS: '1000' }, ...database.serverOptions() });
    const file = join(server.dir, 'products.txt');
    idOf = writeProductsFile(file, IMPORTED, (i) => `FLUSH-${String(i).padStart(6, '0')}`);
    await server.start({ PRODUCTS_FILE: file });
    await server.waitHealthy();
  });

  afterAll(async () => {
    await server?.dispose();
    await database?.drop();
    client?.disconnect();
    await redis?.stop();
  });

  function sample(): string[] {
    return [...spreadSample(IMPORTED, SAMPLE).map((i) => idOf(i)), ...posted];
  }

  async function post(prefix: string, n: number): Promise<void> {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const res = await server.request('POST', '/products/batch', { body: { products: ids.map((id) => ({ id, name: prefix, price: 5 })) } });
    expect(res.status, res.text).toBe(200);
    posted.push(...ids);
  }

  it('writes a full snapshot again within seconds, and a crash after it restores from that snapshot', { timeout: 90_000 }, async () => {
    const firstMs = await waitForCompleteSnapshot(client, namespace, RESNAPSHOT_WITHIN_MS);
    await post('before-flush', 200);
    await client.flushall();
    const flushedAt = performance.now();
    expect(await client.exists(snapshotKey(namespace))).toBe(0);
    const reappearedMs = await waitForCompleteSnapshot(client, namespace, RESNAPSHOT_WITHIN_MS);
    // Rows added after the re-snapshot are replayed from the database on restore.
    await post('after-flush', 200);
    console.log(`[flushall] first snapshot ${firstMs} ms after start; after FLUSHALL a complete snapshot was back in ${Math.round(performance.now() - flushedAt)} ms (${reappearedMs} ms of polling)`);

    await server.kill9(); // no final snapshot: only the re-written one can be restored
    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'snapshot' }), 'restored from the snapshot written after FLUSHALL').toBe(1);
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'rebuild' })).toBe(0);
    expect(await idsNotFound(server, sample())).toEqual([]);
    expect((await server.stats()).items).toBe(IMPORTED + posted.length);
  });

  it('rebuilds from the database when Redis was emptied while the service was down', { timeout: 90_000 }, async () => {
    await post('before-down-flush', 100);
    await server.kill9();
    await client.flushall();
    await server.start();
    await server.waitHealthy();
    const metrics = await server.metrics();
    expect(metricValue(metrics, 'bloomgate_filter_loads_total', { source: 'rebuild' }), 'no snapshot: rebuilt from the database').toBe(1);
    expect(await idsNotFound(server, sample())).toEqual([]);
    expect((await server.stats()).items).toBe(IMPORTED + posted.length);
    // And it writes a snapshot for next time, without waiting for a shutdown.
    await waitForCompleteSnapshot(client, namespace, RESNAPSHOT_WITHIN_MS);
  });
});

/** Polls until the snapshot hash is present and whole; returns the ms waited. */
async function waitForCompleteSnapshot(client: Redis, namespace: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const problems = async (): Promise<string[]> => checkSnapshot(await readSnapshot(client, namespace)).problems.slice(0, 5);
  await waitForValue('a complete snapshot', problems, (found) => found.length === 0, timeoutMs);
  return Math.round(performance.now() - started);
}
