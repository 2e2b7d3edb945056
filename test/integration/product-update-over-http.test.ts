/**
 * PUT /products/{id}: 200 with the product, 404 for an unknown id, 400 for a
 * bad body, behind WRITE_TOKEN; the new value is what every later GET sees,
 * after a restart too. When the Redis write fails (writes paused on a private
 * redis-server), the stale cached entry is bypassed until the write lands.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';

const WRITE_TOKEN = 'product-update-write-token';
const write = { authorization: `Bearer ${WRITE_TOKEN}` };

function productsDir(ids: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-update-'));
  writeFileSync(join(dir, 'products.txt'), ids.join('\n') + '\n');
  return dir;
}

const services: TestService[] = [];
afterEach(async () => {
  for (const svc of services.splice(0)) await svc.stop();
});

function put(svc: TestService, id: string, body: unknown, headers: Record<string, string> = write) {
  return svc.request(`/products/${encodeURIComponent(id)}`, { method: 'PUT', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('PUT /products/{id}', () => {
  it('answers 200 with the product, and every later GET (and a restart) sees it', async () => {
    const dir = productsDir(['SKU-1', 'SKU-2']);
    const env = { REDIS_URL: uniqueMemoryUrl(), WRITE_TOKEN };
    let svc = await startTestService(env, dir);
    services.push(svc);
    expect((await svc.get('/products/SKU-1')).body).toMatchObject({ name: 'Product SKU-1', price: 0, source: 'database' });
    expect((await svc.get('/products/SKU-1')).body.source).toBe('cache');
    const res = await put(svc, 'SKU-1', { name: 'Desk lamp', price: 19.9 });
    expect(res).toMatchObject({ status: 200, body: { id: 'SKU-1', name: 'Desk lamp', price: 19.9 } });
    expect((await svc.get('/products/SKU-1')).body).toEqual({ id: 'SKU-1', name: 'Desk lamp', price: 19.9, source: 'cache' });
    // The body may carry the path's id (a product's JSON sent back as is).
    expect((await put(svc, 'SKU-1', { id: 'SKU-1', name: 'Desk lamp', price: 21 })).status).toBe(200);
    await svc.close();
    svc = await startTestService({ ...env, REDIS_URL: uniqueMemoryUrl() }, dir);
    services.push(svc);
    expect((await svc.get('/products/SKU-1')).body).toEqual({ id: 'SKU-1', name: 'Desk lamp', price: 21, source: 'database' });
  });

  it('answers 404 not_found for an unknown id, 400 for a bad body, and needs the write token', async () => {
    const svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), WRITE_TOKEN }, productsDir(['SKU-1']));
    services.push(svc);
    expect(await put(svc, 'NOPE', { name: 'n', price: 1 })).toMatchObject({ status: 404, body: { error: 'not_found' } });
    // Absent from the database: the filter and the cache still say so.
    expect((await svc.get('/products/NOPE')).status).toBe(404);
    for (const bad of ['not json', '[]', { name: '', price: 1 }, { name: 'n', price: -1 }, { name: 'n' }, { id: 'SKU-2', name: 'n', price: 1 }]) {
      const res = await put(svc, 'SKU-1', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    }
    expect((await put(svc, 'SKU-1', { name: 'n', price: 1 }, {})).body.error).toBe('write_unauthorized');
    expect((await put(svc, 'SKU-1', { name: 'n', price: 1 }, { authorization: 'Bearer another-token-entirely' })).body.error).toBe('write_forbidden');
    expect((await svc.get('/products/SKU-1')).body).toMatchObject({ name: 'Product SKU-1', price: 0 });
  });

  describe('when the Redis write fails', () => {
    let redis: PrivateRedis | undefined;
    afterAll(async () => {
      await redis?.stop();
    });

    it('answers 200, and lookups bypass the stale cached entry until the write lands', async () => {
      redis = await startPrivateRedis();
      const admin = new Redis(redis.url);
      try {
        const svc = await startTestService({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '200', LOCAL_CACHE_ENTRIES: '0' }, productsDir(['SKU-1']));
        services.push(svc);
        await svc.get('/products/SKU-1');
        expect((await svc.get('/products/SKU-1')).body).toMatchObject({ price: 0, source: 'cache' });
        // Reads go on, writes wait (and time out): the cached entry stays the old one.
        await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
        const res = await put(svc, 'SKU-1', { name: 'Renamed', price: 5 });
        expect(res).toMatchObject({ status: 200, body: { price: 5 } });
        expect(JSON.parse((await admin.get(`bloom:cache:${svc.config.namespace}:SKU-1`))!)).toMatchObject({ price: 0 });
        expect((await svc.get('/products/SKU-1')).body).toMatchObject({ price: 5, source: 'database' });
        await waitFor('the retried write landed', async () => JSON.parse((await admin.get(`bloom:cache:${svc.config.namespace}:SKU-1`)) ?? '{}').price === 5);
        await waitFor('lookups use the cache again', async () => (await svc.get('/products/SKU-1')).body.source === 'cache');
        expect((await svc.get('/products/SKU-1')).body).toMatchObject({ price: 5, source: 'cache' });
      } finally {
        admin.disconnect();
      }
    });
  });
});
