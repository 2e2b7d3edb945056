/**
 * Every endpoint and error path over real HTTP, against the real Redis (own
 * namespace) and against the in-process stand-in, on both database backends.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { sku } from '../helpers/ids.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { deleteNamespaceKeys, SHARED_REDIS_URL, uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitForValue } from '../helpers/wait-for.js';

const FILE_IDS = 2000;

const REDIS_VARIANTS = [
  { redis: 'real redis', redisUrl: () => SHARED_REDIS_URL },
  { redis: 'memory://', redisUrl: () => uniqueMemoryUrl() },
];

describe.each(BACKENDS.flatMap((backend) => REDIS_VARIANTS.map((v) => ({ ...v, backend, name: backend.name }))))('HTTP API against $redis on $name', ({ redisUrl, backend }) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: FILE_IDS }, (_, i) => sku(i)).join('\n') + '\n');
    svc = await startTestService({ REDIS_URL: redisUrl(), SNAPSHOT_INTERVAL_MS: '50' }, dir, { databaseUrl: db.databaseUrl });
  });

  afterAll(async () => {
    const url = svc.config.redisUrl;
    await svc.stop();
    await db.drop();
    if (url === SHARED_REDIS_URL) {
      const redis = RedisConnection.open({ url, commandTimeoutMs: 1000 });
      await redis.waitReady(5000);
      await deleteNamespaceKeys(redis.client, svc.config.namespace);
      await redis.close();
    }
  });

  it('reports healthy once loaded, with the imported item count', async () => {
    const { status, body } = await svc.get('/health');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', redis: 'up', items: FILE_IDS });
  });

  it('serves an existing id from the database, then from the cache', async () => {
    const first = await svc.get(`/products/${sku(7)}`);
    expect(first).toMatchObject({ status: 200, body: { id: sku(7), name: `Product ${sku(7)}`, price: 0, source: 'database' } });
    const second = await svc.get(`/products/${sku(7)}`);
    expect(second).toMatchObject({ status: 200, body: { id: sku(7), source: 'cache' } });
  });

  it('rejects an unknown id at the filter without touching the database', async () => {
    const before = (await svc.get('/stats')).body;
    const { status, body } = await svc.get('/products/UNKNOWN-123');
    expect(status).toBe(404);
    expect(body).toEqual({ error: 'not_found', message: 'no such product', id: 'UNKNOWN-123', source: 'bloom_filter' });
    const after = (await svc.get('/stats')).body;
    expect(after.bloom_rejected).toBe((before.bloom_rejected as number) + 1);
    expect(after.db_queries).toBe(before.db_queries);
  });

  it('creates a product (201), finds it, and refuses a duplicate (409)', async () => {
    const created = await svc.post('/products', { id: 'new-α/1', name: 'Widget', price: 9.5 });
    expect(created).toMatchObject({ status: 201, body: { id: 'new-α/1', name: 'Widget', price: 9.5 } });
    const found = await svc.get(`/products/${encodeURIComponent('new-α/1')}`);
    expect(found).toMatchObject({ status: 200, body: { id: 'new-α/1', price: 9.5 } });
    const dup = await svc.post('/products', { id: 'new-α/1', name: 'Other', price: 1 });
    expect(dup).toMatchObject({ status: 409, body: { error: 'already_exists' } });
  });

  it('answers 400 for malformed JSON and for each bad field, naming them', async () => {
    expect(await svc.post('/products', '{"id":')).toMatchObject({ status: 400, body: { error: 'invalid_body' } });
    expect(await svc.post('/products', '')).toMatchObject({ status: 400, body: { error: 'invalid_body' } });
    const bad = await svc.post('/products', { id: '', name: '', price: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(['id is empty', 'name must be a non-empty string', 'price must be a number >= 0']);
    expect((await svc.post('/products', [1, 2])).status).toBe(400);
    expect((await svc.post('/products', { id: 'x', name: 'y', price: '1' })).status).toBe(400);
    expect((await svc.post('/products', { id: 'x'.repeat(257), name: 'y', price: 1 })).status).toBe(400);
  });

  it('answers 413 for a body over 64 KiB', async () => {
    const big = JSON.stringify({ id: 'big', name: 'x'.repeat(70_000), price: 1 });
    expect(await svc.post('/products', big)).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    // The service still answers afterwards.
    expect((await svc.get('/health')).status).toBe(200);
  });

  it('validates ids in the path: bad escapes, control characters, length in bytes', async () => {
    expect(await svc.get('/products/%ZZ')).toMatchObject({ status: 400, body: { error: 'invalid_id' } });
    expect(await svc.get('/products/a%00b')).toMatchObject({ status: 400, body: { error: 'invalid_id' } });
    expect(await svc.get('/products/a%7Fb')).toMatchObject({ status: 400, body: { error: 'invalid_id' } });
    expect((await svc.get(`/products/${'x'.repeat(257)}`)).status).toBe(400);
    // 128 two-byte characters are exactly 256 bytes: valid (and unknown).
    expect(await svc.get(`/products/${encodeURIComponent('é'.repeat(128))}`)).toMatchObject({ status: 404, body: { source: 'bloom_filter' } });
    expect((await svc.get(`/products/${encodeURIComponent('é'.repeat(129))}`)).status).toBe(400);
  });

  it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
    expect(await svc.get('/nope')).toMatchObject({ status: 404, body: { error: 'route_not_found' } });
    const wrong = await svc.request('/products/x', { method: 'PATCH', body: '{}' });
    expect(wrong.status).toBe(405);
    expect(wrong.body.error).toBe('method_not_allowed');
    expect(wrong.headers.get('allow')).toBe('GET, PUT, DELETE');
    expect((await svc.request('/health', { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('checks ids in batches through the pool, in order, with limits', async () => {
    const ids = [sku(1), 'nope-1', sku(1999), 'nope-2', 'new-α/1'];
    expect(await svc.post("/bloom/check", { ids })).toMatchObject({ status: 200, body: { results: [true, false, true, false, true] } });
    const many = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? sku(i % FILE_IDS) : `absent-${i}`));
    const res = await svc.post('/bloom/check', { ids: many });
    const results = res.body.results as boolean[];
    expect(results).toHaveLength(10_000);
    results.forEach((r, i) => {
      if (i % 2 === 0) expect(r).toBe(true); // never a false negative
    });
    expect(results.filter((r, i) => i % 2 === 1 && r).length).toBeLessThan(50); // FPR ~1e-20 here
    expect((await svc.post('/bloom/check', { ids: [] })).status).toBe(400);
    expect((await svc.post('/bloom/check', { ids: Array.from({ length: 10_001 }, (_, i) => `i${i}`) })).status).toBe(413);
    const bad = await svc.post('/bloom/check', { ids: ['ok', 5, 'a\u0001'] });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(['ids[1] must be a string', 'ids[2]: id contains control character U+0001 at index 1']);
  });

  it('creates batches in one transaction, reporting conflicts, and writes nothing of an invalid batch', async () => {
    const ok = await svc.post('/products/batch', {
      products: [
        { id: 'batch-1', name: 'a', price: 1 },
        { id: 'batch-2', name: 'b', price: 2 },
        { id: sku(3), name: 'dup', price: 3 },
      ],
    });
    expect(ok).toMatchObject({ status: 200, body: { created: 2, conflicts: [sku(3)] } });
    expect((await svc.get('/products/batch-2')).status).toBe(200);
    const bad = await svc.post('/products/batch', {
      products: [
        { id: 'batch-3', name: 'c', price: 3 },
        { id: 'batch-4', name: 'd', price: -4 },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(['products[1].price must be a number >= 0']);
    expect(await svc.get('/products/batch-3')).toMatchObject({ status: 404, body: { source: 'bloom_filter' } });
  });

  it('reports filter stats whose item count equals the database row count', async () => {
    const { status, body } = await svc.get('/bloom/stats');
    expect(status).toBe(200);
    // 2000 imported + new-α/1 + batch-1 + batch-2
    expect(body).toMatchObject({ capacity: 1_000_000, target_fpr: 0.01, nominal_bits: 9_585_059, hashes: 7, shards: 64, items: FILE_IDS + 3 });
    expect(body.bits as number).toBeGreaterThanOrEqual(9_585_059);
    expect(body.fill_ratio as number).toBeGreaterThan(0);
    expect(body.estimated_fpr as number).toBeLessThan(1e-10);
    expect(body.memory_bytes as number).toBeGreaterThan((body.bits as number) / 8);
    expect(body.namespace).toBe(svc.config.namespace);
    expect(body.snapshot).toMatchObject({ dirty_shards: expect.any(Number) });
    expect(body.load).toMatchObject({ source: 'import' });
  });

  it('exposes lookup counters as JSON and Prometheus metrics', async () => {
    const stats = (await svc.get('/stats')).body;
    expect(stats.lookups).toBe((stats.bloom_rejected as number) + (stats.negative_cache_hit as number) + (stats.cache_hit as number) + (stats.db_hit as number) + (stats.db_miss as number));
    expect(stats.db_roundtrip_reduction).toBeCloseTo((stats.db_roundtrips_avoided as number) / (stats.lookups as number), 10);
    const res = await fetch(`${svc.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'bloomgate_lookups_total{outcome="bloom_rejected"}',
      'bloomgate_lookups_total{outcome="cache_hit"}',
      'bloomgate_db_queries_total',
      'bloomgate_db_roundtrips_avoided_total',
      'bloomgate_filter_items',
      'bloomgate_filter_fill_ratio',
      'bloomgate_filter_estimated_fpr',
      'bloomgate_false_positives_total',
      'bloomgate_http_request_duration_seconds_bucket{route="GET /products/:id",status="404",le="+Inf"}',
      'bloomgate_snapshot_duration_seconds_count',
      'bloomgate_snapshot_bytes_total',
      'bloomgate_snapshot_last_success_timestamp_seconds',
      'bloomgate_pool_queue_size',
      'bloomgate_pool_utilization',
      'bloomgate_process_cpu_seconds_total',
    ]) {
      expect(text, name).toContain(name);
    }
    const rejected = /^bloomgate_lookups_total\{outcome="bloom_rejected"\} (\d+)$/m.exec(text);
    expect(Number(rejected?.[1])).toBe(stats.bloom_rejected);
  });

  it('survives a client that aborts mid-request', async () => {
    const port = new URL(svc.url).port;
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /products HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"id":"half');
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    expect((await svc.get('/health')).status).toBe(200);
    expect((await svc.get('/products/half')).status).toBe(404);
  });
});

describe.each(BACKENDS)('the negative cache on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;
  const memoryUrl = uniqueMemoryUrl();

  beforeAll(async () => {
    db = await backend.open();
    // A tiny, overfull filter so that false positives are easy to find.
    svc = await startTestService({ REDIS_URL: memoryUrl, BLOOM_CAPACITY: '50', BLOOM_FPR: '0.3', BLOOM_SHARDS: '1' }, db.dir, { databaseUrl: db.databaseUrl });
    const products = Array.from({ length: 400 }, (_, i) => ({ id: `p-${i}`, name: 'p', price: 1 }));
    expect((await svc.post('/products/batch', { products })).status).toBe(200);
  });

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  async function falsePositive(prefix: string): Promise<string> {
    const candidates = Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`);
    const { body } = await svc.post('/bloom/check', { ids: candidates });
    const index = (body.results as boolean[]).indexOf(true);
    expect(index).toBeGreaterThanOrEqual(0);
    return candidates[index]!;
  }

  it('remembers a false positive the database confirmed missing', async () => {
    const id = await falsePositive('fp');
    expect(await svc.get(`/products/${id}`)).toMatchObject({ status: 404, body: { source: 'database' } });
    // The marker is written after the answer: wait until a lookup is served from it.
    const cached = await waitForValue('the negative marker', () => svc.get(`/products/${id}`), (r) => r.body.source === 'negative_cache');
    expect(cached).toMatchObject({ status: 404, body: { source: 'negative_cache' } });
    const stats = (await svc.get('/stats')).body;
    expect(stats.false_positives).toBeGreaterThanOrEqual(1);
    expect(stats.negative_cache_hit).toBeGreaterThanOrEqual(1);
  });

  it('never hides a product created after its id was negatively cached', async () => {
    const id = await falsePositive('later');
    expect(await svc.get(`/products/${id}`)).toMatchObject({ status: 404, body: { source: 'database' } });
    const cached = await waitForValue('the negative marker', () => svc.get(`/products/${id}`), (r) => r.body.source === 'negative_cache');
    expect(cached.body.source).toBe('negative_cache');
    expect((await svc.post('/products', { id, name: 'now real', price: 2 })).status).toBe(201);
    expect(await svc.get(`/products/${id}`)).toMatchObject({ status: 200, body: { id, name: 'now real' } });
  });

  it('answers a burst of lookups of one uncached id with a handful of database queries', async () => {
    // Creates cache their product; drop it so the lookups go to the database.
    const redis = RedisConnection.open({ url: memoryUrl, commandTimeoutMs: 1000 });
    await redis.waitReady(1000);
    expect(await redis.client.del(`bloom:cache:${svc.config.namespace}:p-77`)).toBe(1);
    await redis.close();
    const before = (await svc.get('/stats')).body;
    const results = await Promise.all(Array.from({ length: 200 }, () => svc.get('/products/p-77')));
    for (const r of results) expect(r.status).toBe(200);
    const after = (await svc.get('/stats')).body;
    const queries = (after.db_queries as number) - (before.db_queries as number);
    expect(queries).toBeGreaterThanOrEqual(1);
    // Requests arrive over many connections and event-loop turns: they share the
    // in-flight query or find the cache it filled (test/guard.test.ts proves the sharing).
    expect(queries).toBeLessThan(20);
  });
});

describe.each(BACKENDS)('LOOKUP_PATH=pool on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: 500 }, (_, i) => sku(i)).join('\n'));
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), LOOKUP_PATH: 'pool' }, dir, { databaseUrl: db.databaseUrl });
  });

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('answers the same as the inline path, checking the filter in the workers', async () => {
    const lookups = await Promise.all([sku(1), 'absent-1', sku(499), 'absent-2'].map((id) => svc.get(`/products/${id}`)));
    expect(lookups.map((l) => [l.status, l.body.source])).toEqual([
      [200, 'database'],
      [404, 'bloom_filter'],
      [200, 'database'],
      [404, 'bloom_filter'],
    ]);
    expect((await svc.get('/bloom/stats')).body.lookup_path).toBe('pool');
    expect((await svc.get('/stats')).body.bloom_rejected).toBe(2);
  });
});
