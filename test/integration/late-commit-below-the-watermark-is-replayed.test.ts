/**
 * Issue 10, "commit order", end to end on PostgreSQL: a row whose transaction
 * began (and took its sequence value) BEFORE a snapshot, but commits AFTER it,
 * is found after a restart from that snapshot. A watermark on the sequence
 * (`seq <= W`) would skip it forever; the position watermark (the oldest
 * transaction still running when the snapshot's horizon was read) replays it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.js';
import { deleteNamespaceKeys, SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';

let db: TestDatabase | undefined;
let svc: TestService | undefined;
let client: pg.Client | undefined;
const namespace = uniqueNamespace('latecommit');
const dir = mkdtempSync(join(tmpdir(), 'bloomgate-latecommit-'));

afterEach(async () => {
  await svc?.close();
  await client?.end().catch(() => undefined);
  await db?.drop();
  const redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 1000 });
  await redis.waitReady(5000);
  await deleteNamespaceKeys(redis.client, namespace);
  await redis.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a row that commits after a snapshot with a smaller sequence value', () => {
  it('is replayed after a restart from that snapshot', { timeout: 60_000 }, async () => {
    db = await createTestDatabase();
    const env = { REDIS_URL: SHARED_REDIS_URL, BLOOM_STATE_NAMESPACE: namespace, SNAPSHOT_INTERVAL_MS: '50', LOG_LEVEL: 'silent' };
    svc = await startTestService(env, dir, { databaseUrl: db.url });
    expect((await svc.post('/products', { id: 'FIRST', name: 'f', price: 1 })).status).toBe(201);

    // Another writer's transaction takes the next sequence value and stays open.
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO products (id, name, price) VALUES ('LATE', 'l', 1)");

    // Rows with larger sequence values commit and are snapshotted meanwhile (the final snapshot at close).
    expect((await svc.post('/products', { id: 'AFTER', name: 'a', price: 1 })).status).toBe(201);
    await svc.close();
    const seqs = await client.query<{ id: string; seq: string }>('SELECT id, seq::text FROM products ORDER BY seq');
    expect(seqs.rows.map((r) => r.id)).toEqual(['FIRST', 'LATE', 'AFTER']); // LATE's seq is below AFTER's

    // Only now does it commit: after the snapshot that covers AFTER.
    await client.query('COMMIT');

    svc = await startTestService(env, dir, { databaseUrl: db.url });
    const stats = await svc.get('/bloom/stats');
    // The snapshot's watermark stayed at LATE's transaction (the oldest one running): LATE and AFTER are replayed.
    // The horizon is server-wide, so another database's transaction may hold it further back and FIRST replays too.
    expect(stats.body.load, 'restored from the snapshot, not rebuilt').toMatchObject({ source: 'snapshot' });
    expect((stats.body.load as { replayed: number }).replayed, 'LATE and AFTER replayed (FIRST too if the horizon was older)').toBeOneOf([2, 3]);
    for (const id of ['FIRST', 'AFTER', 'LATE']) expect((await svc.get(`/products/${id}`)).status, id).toBe(200);
  });
});
