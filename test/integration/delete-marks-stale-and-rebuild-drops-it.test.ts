/**
 * DELETE /products/{id}: the row goes, the cached product is replaced by a
 * negative marker, and the id is counted stale (its bits stay set). Past
 * REBUILD_STALE_RATIO the service rebuilds on its own and the stale ids are gone.
 * On both backends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { sku } from '../helpers/ids.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitForValue } from '../helpers/wait-for.js';

const TOKEN = 'delete-test-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${TOKEN}` };

describe.each(BACKENDS)('deletes on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: 100 }, (_, i) => sku(i)).join('\n') + '\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), ADMIN_TOKEN: TOKEN, REBUILD_STALE_RATIO: '0.05' }, dir, { databaseUrl: db.databaseUrl });
  });

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const del = (id: string, headers: Record<string, string> = ADMIN) => svc.request(`/products/${encodeURIComponent(id)}`, { method: 'DELETE', headers });
  const stats = async () => (await svc.get('/bloom/stats')).body as { stale_items: number; items: number; rebuild: { completed: number; running: boolean; last: { reason: string } | null } };

  it('needs the admin token', async () => {
    expect((await del(sku(1), {})).status).toBe(401);
    expect((await del(sku(1), { authorization: 'Bearer not-the-token-at-all' })).status).toBe(401);
    expect((await svc.get(`/products/${sku(1)}`)).status).toBe(200);
  });

  it('deletes the row, replaces the cached product with a negative marker, and counts the id stale', async () => {
    expect(await svc.get(`/products/${sku(1)}`)).toMatchObject({ status: 200, body: { source: 'cache' } });
    const res = await del(sku(1));
    expect(res.status).toBe(204);
    expect(res.body).toEqual({});
    expect(await svc.get(`/products/${sku(1)}`)).toMatchObject({ status: 404, body: { source: 'negative_cache' } });
    expect(await stats()).toMatchObject({ stale_items: 1, items: 99 });
    const metrics = (await svc.request('/metrics', { method: 'GET' })).body.text as string;
    expect(metrics).toContain('bloomgate_filter_stale_items 1');
  });

  it('answers 404 for an id that does not exist (or no longer does)', async () => {
    expect(await del(sku(1))).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await del('never-existed')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await stats()).stale_items).toBe(1);
  });

  it('rebuilds by itself once stale ids pass REBUILD_STALE_RATIO, and the deleted ids stop passing the filter', async () => {
    for (const i of [2, 3, 4, 5, 6]) expect((await del(sku(i))).status).toBe(204); // 6 stale / 94 items > 5 %
    const s = await waitForValue('the stale rebuild to complete', stats, (v) => v.rebuild.completed > 0, 15_000);
    expect(s).toMatchObject({ stale_items: 0, items: 94, rebuild: { completed: 1, last: { reason: 'stale' } } });
    for (const i of [1, 2, 3, 4, 5, 6]) expect((await svc.get(`/products/${sku(i)}`)).body.source).toBe('bloom_filter');
    expect((await svc.get(`/products/${sku(7)}`)).status).toBe(200);
    const metrics = (await svc.request('/metrics', { method: 'GET' })).body.text as string;
    expect(metrics).toContain('bloomgate_rebuild_triggers_total{reason="stale"} 1');
    expect(svc.logs.some((l) => l.includes('filter rebuild triggered: stale'))).toBe(true);
  });

  it('lets a deleted id be created again', async () => {
    expect((await svc.post('/products', { id: sku(1), name: 'back', price: 1 })).status).toBe(201);
    expect(await svc.get(`/products/${sku(1)}`)).toMatchObject({ status: 200, body: { name: 'back' } });
  });
});
