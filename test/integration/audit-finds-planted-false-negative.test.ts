/**
 * The false-negative audit: a row planted straight into SQLite (so the filter
 * never saw it) is rejected by the filter; with AUDIT_SAMPLE_EVERY=1 the audit
 * checks that rejection against the database, counts it, logs it at error
 * level, and adds the id to the filter, so the next lookup finds it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';

describe('false-negative audit', () => {
  let svc: TestService;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bloomgate-audit-'));
    writeFileSync(join(dir, 'products.txt'), 'SKU-1\nSKU-2\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), AUDIT_SAMPLE_EVERY: '1', AUDIT_MAX_PER_SECOND: '50' }, dir);
  });

  afterAll(async () => {
    await svc.stop();
  });

  const metric = async (name: string): Promise<number> => {
    const text = (await svc.request('/metrics', { method: 'GET' })).body.text as string;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1]);
  };

  it('finds, counts, logs and repairs a planted false negative', async () => {
    const db = new Database(svc.config.dbPath);
    db.prepare('INSERT INTO products (id, name, price, created_at) VALUES (?, ?, ?, ?)').run('PLANTED-1', 'planted', 1, Date.now());
    db.close();

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
