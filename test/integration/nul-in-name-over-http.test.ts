/**
 * PostgreSQL refuses U+0000 in text; a name carrying it must be a 400
 * invalid_body naming the field (as on SQLite), never a 500 from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';

describe('a name containing U+0000 on PostgreSQL', () => {
  let db: TestDatabase;
  let svc: TestService;
  beforeAll(async () => {
    db = await createTestDatabase('bloomgate_nul');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), LOG_LEVEL: 'silent' }, undefined, { databaseUrl: db.url });
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('is refused with 400 invalid_body, alone and in a batch, and nothing is stored', async () => {
    const one = await svc.post('/products', { id: 'NUL-1', name: 'a\u0000b', price: 1 });
    expect(one.status).toBe(400);
    expect(one.body).toMatchObject({ error: 'invalid_body' });
    expect(JSON.stringify(one.body)).toContain('name contains control character U+0000 at index 1');
    const batch = await svc.post('/products/batch', { products: [{ id: 'NUL-2', name: 'ok', price: 1 }, { id: 'NUL-3', name: '\u0000', price: 1 }] });
    expect(batch.status).toBe(400);
    expect(JSON.stringify(batch.body)).toContain('products[1].name contains control character U+0000 at index 0');
    expect((await svc.get('/products/NUL-1')).status).toBe(404);
    expect((await svc.get('/products/NUL-2')).status).toBe(404);
  });
});
