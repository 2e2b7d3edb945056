/**
 * The false-negative audit: a row planted straight into the database (so the filter
 * never saw it) is rejected by the filter; with AUDIT_SAMPLE_EVERY=1 the audit
 * checks that rejection against the database, counts it, logs it at error
 * level, and adds the id to the filter, so the next lookup finds it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';

describe.each(BACKENDS)('false-negative audit on $name', (backend) => {
  let svc: TestService;
  let db: BackendDatabase;

  beforeAll(async () => {
    db = await backend.open();
    const dir = db.dir;
    writeFileSync(join(dir, 'products.txt'), 'SKU-1\nSKU-2\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), AUDIT_SAMPLE_EVERY: '1', AUDIT_MAX_PER_SECOND: '50' }, dir, { databaseUrl: db.databaseUrl });
  });

  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const metric = async (name: string): Promise<number> => {
    const text = (await svc.request('/metrics', { method: 'GET' })).body.text as string;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1]);
  };

  it('finds, counts, logs and repairs a planted false negative', async () => {
    await db.insertProducts(['PLANTED-1']);

    expect(await svc.get('/products/PLANTED-1')).toMatchObject({ status: 404, body: { source: 'bloom_filter' } });
    for (let i = 0; i < 5; i++) await svc.get(`/products/absent-${i}`); // true negatives: checked, not counted

    await waitFor('the audit to count the false negative', async () => (await metric('bloomgate_false_negatives_total')) >= 1);
    expect(await metric('bloomgate_false_negatives_total')).toBe(1);
    await waitFor('six audit checks', async () => (await metric('bloomgate_audit_checks_total')) >= 6);
    expect(await metric('bloomgate_audit_checks_total')).toBe(6);
    expect(await metric('bloomgate_false_negatives_total')).toBe(1);

    const logged = svc.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).includes('FALSE NEGATIVE'));
    expect(logged).toMatchObject({ level: 'error', id: 'PLANTED-1' });
    expect(await svc.get('/products/PLANTED-1')).toMatchObject({ status: 200, body: { id: 'PLANTED-1', source: 'database' } });
  });
});
