/**
 * POST /admin/rebuild under concurrent reads and writes: every lookup of an
 * existing id answers 200 before, during and after the swap, every create is
 * found afterwards, no request fails, and a full snapshot follows the swap.
 * On both backends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { sku } from '../helpers/ids.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitFor, waitForValue } from '../helpers/wait-for.js';

const TOKEN = 'rebuild-test-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${TOKEN}` };
const FILE_IDS = 60_000;
/** Requests of each kind that must run against the new filter after the swap. */
const LOAD_AFTER_SWAP = 50;

interface Status {
  rebuild: { running: boolean; completed: number; failed: number; progress: number; last: { reason: string; ok: boolean; ms: number } | null };
  snapshot: { saves: number; pending_full: boolean; last_saved_at: string | null };
  seed_fingerprint: string;
}

describe.each(BACKENDS)('online rebuild under load on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: FILE_IDS }, (_, i) => sku(i)).join('\n') + '\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), ADMIN_TOKEN: TOKEN, WORKERS: '2', SNAPSHOT_INTERVAL_MS: '50' }, dir, { databaseUrl: db.databaseUrl });
  });

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const status = async (): Promise<Status> => (await svc.request<Status>('/admin/status', { method: 'GET', headers: ADMIN })).body;

  it('loses no id and fails no request', async () => {
    const failures: string[] = [];
    const created: string[] = [];
    let stop = false;
    let lookups = 0;
    let sawRunning = false;

    const reader = async (worker: number) => {
      for (let i = worker; !stop; i += 7) {
        const id = sku((i * 7919) % FILE_IDS);
        const res = await svc.get(`/products/${id}`);
        lookups++;
        if (res.status !== 200) failures.push(`GET ${id} -> ${res.status} ${JSON.stringify(res.body)}`);
        const mine = created[(i * 31) % Math.max(1, created.length)];
        if (mine !== undefined) {
          const again = await svc.get(`/products/${encodeURIComponent(mine)}`);
          if (again.status !== 200) failures.push(`GET created ${mine} -> ${again.status} ${JSON.stringify(again.body)}`);
        }
      }
    };
    const writer = async () => {
      for (let n = 0; !stop; n++) {
        const id = `during-${n}`;
        const res = await svc.post('/products', { id, name: 'x', price: 1 });
        if (res.status !== 201) failures.push(`POST ${id} -> ${res.status}`);
        else created.push(id);
      }
    };
    const batcher = async () => {
      for (let n = 0; !stop; n++) {
        const products = Array.from({ length: 50 }, (_, j) => ({ id: `batch-${n}-${j}`, name: 'b', price: 2 }));
        const res = await svc.post('/products/batch', { products });
        if (res.status !== 200 || res.body.created !== 50) failures.push(`batch ${n} -> ${res.status} ${JSON.stringify(res.body)}`);
        else created.push(...products.map((p) => p.id));
      }
    };
    const watcher = async () => {
      while (!stop) {
        if ((await status()).rebuild.running) sawRunning = true;
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    const load = [reader(0), reader(1), reader(2), writer(), batcher(), watcher()];
    await waitFor('reads and creates under way', () => lookups > LOAD_AFTER_SWAP && created.length > LOAD_AFTER_SWAP);
    const before = await status();
    const started = await svc.request('/admin/rebuild', { method: 'POST', headers: ADMIN });
    expect(started.status).toBe(202);
    const again = await svc.request('/admin/rebuild', { method: 'POST', headers: ADMIN });
    expect(again).toMatchObject({ status: 409, body: { error: 'rebuild_in_progress' } });

    const s = await waitForValue('the rebuild to complete', status, (v) => !v.rebuild.running && v.rebuild.completed > 0, 60_000);
    // Keep the load on the new filter a while: enough reads and creates after the swap.
    const [lookupsAtSwap, createdAtSwap] = [lookups, created.length];
    await waitFor('load on the new filter', () => lookups >= lookupsAtSwap + LOAD_AFTER_SWAP && created.length >= createdAtSwap + LOAD_AFTER_SWAP);
    stop = true;
    await Promise.all(load);

    expect(failures).toEqual([]);
    expect(sawRunning).toBe(true);
    expect(lookups).toBeGreaterThan(100);
    expect(s.rebuild).toMatchObject({ running: false, completed: 1, failed: 0, last: { reason: 'manual', ok: true } });

    // Every id created before, during and after the swap is found.
    for (const id of created) {
      const res = await svc.get(`/products/${encodeURIComponent(id)}`);
      if (res.status !== 200) failures.push(`after: ${id} -> ${res.status}`);
    }
    expect(failures).toEqual([]);
    const stats = (await svc.get('/bloom/stats')).body;
    expect(stats.items).toBe(FILE_IDS + created.length);

    // A full snapshot replaced the old one after the swap.
    const after = await waitForValue('a full snapshot after the swap', status, (v) => !v.snapshot.pending_full && v.snapshot.saves > before.snapshot.saves);
    expect(after.snapshot.pending_full).toBe(false);
    expect(after.snapshot.saves).toBeGreaterThan(before.snapshot.saves);
    expect(after.seed_fingerprint).toMatch(/^[0-9a-f]{8}$/);

    const metrics = (await svc.request('/metrics', { method: 'GET' })).body.text as string;
    expect(metrics).toContain('bloomgate_rebuild_triggers_total{reason="manual"} 1');
    expect(metrics).toContain('bloomgate_rebuilds_total{result="ok"} 1');
  });
});
