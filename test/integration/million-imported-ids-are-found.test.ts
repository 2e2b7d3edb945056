/**
 * First start with a 1,000,000-line products file: the import takes seconds,
 * and every imported id is then found (no false negative), over HTTP. On both
 * backends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { sku as id } from '../helpers/ids.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';

const N = 1_000_000;

describe.each(BACKENDS)('a first start with 1,000,000 ids on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(id(i));
    writeFileSync(join(dir, 'products.txt'), lines.join('\n') + '\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), WORKERS: '2' }, dir, { databaseUrl: db.databaseUrl });
  }, 180_000);

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('imports them in seconds and finds every one of them', async () => {
    const stats = (await svc.get('/bloom/stats')).body;
    const load = stats.load as { source: string; ms: number };
    expect(load.source).toBe('import');
    expect(stats.items).toBe(N);
    const imported = svc.logs.map((l) => JSON.parse(l) as { msg: string; ms?: number }).find((l) => l.msg === 'imported products file');
    console.log(`1M import on ${backend.name}: file -> database ${imported?.ms} ms; file -> database -> filter ${load.ms} ms; fill ratio ${(stats.fill_ratio as number).toFixed(4)}`);

    let missing = 0;
    for (let start = 0; start < N; start += 10_000) {
      const ids = Array.from({ length: 10_000 }, (_, j) => id(start + j));
      const { status, body } = await svc.post('/bloom/check', { ids });
      expect(status).toBe(200);
      missing += (body.results as boolean[]).filter((r) => !r).length;
    }
    expect(missing).toBe(0);
    // And through the full lookup path, for a spread sample.
    for (let i = 0; i < N; i += 9973) {
      const res = await svc.get(`/products/${id(i)}`);
      expect(res.status, id(i)).toBe(200);
    }
  });
});
