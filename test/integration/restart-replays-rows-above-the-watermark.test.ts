/**
 * A restart restores the filter from the Redis snapshot and replays every row
 * committed after it, so ids created while the snapshot was stale are found.
 * On both backends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { startTestService } from '../helpers/in-process-service.js';
import { deleteNamespaceKeys, SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';

describe.each(BACKENDS)('restart on $name', (backend) => {
  const namespace = uniqueNamespace('restart');
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
  });

  afterAll(async () => {
    const redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 1000 });
    await redis.waitReady(5000);
    await deleteNamespaceKeys(redis.client, namespace);
    await redis.close();
    await db?.drop();
  });

  it('restores the snapshot, replays newer rows, and finds every id', async () => {
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: 5000 }, (_, i) => `F-${i}`).join('\n'));
    const env = { REDIS_URL: SHARED_REDIS_URL, BLOOM_STATE_NAMESPACE: namespace, SNAPSHOT_INTERVAL_MS: '50' };
    const options = { databaseUrl: db.databaseUrl };

    const first = await startTestService(env, dir, options);
    expect((await first.get('/bloom/stats')).body.load).toMatchObject({ source: 'import' });
    expect((await first.post('/products', { id: 'before-stop', name: 'b', price: 1 })).status).toBe(201);
    await first.close(); // final snapshot

    // Rows committed while no bloomgate ran (or after its last snapshot): only the database has them.
    await db.insertProducts(Array.from({ length: 1000 }, (_, i) => `late-${i}`));

    const second = await startTestService(env, dir, options);
    try {
      const stats = (await second.get('/bloom/stats')).body;
      expect(stats.load).toMatchObject({ source: 'snapshot', refused: null });
      // SQLite replays exactly the rows above the watermark. PostgreSQL's watermark (the horizon) is
      // server-wide, so other databases' transactions may hold it back and a few older rows replay too.
      if (backend.name === 'sqlite') expect(stats.load).toMatchObject({ replayed: 1000 });
      else expect((stats.load as { replayed: number }).replayed).toBeGreaterThanOrEqual(1000);
      expect(stats.items).toBe(5000 + 1 + 1000);
      for (const id of ['F-0', 'F-4999', 'before-stop', 'late-0', 'late-999']) {
        expect((await second.get(`/products/${id}`)).status, id).toBe(200);
      }
      const check = await second.post('/bloom/check', { ids: Array.from({ length: 1000 }, (_, i) => `late-${i}`) });
      expect((check.body.results as boolean[]).every(Boolean)).toBe(true);
    } finally {
      await second.close();
    }
  });
});
