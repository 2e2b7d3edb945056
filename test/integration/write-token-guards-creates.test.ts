/**
 * WRITE_TOKEN over real HTTP: when set, creates need `Authorization: Bearer
 * <WRITE_TOKEN>` (401 without, 403 with another token, 201 with it); reads
 * never need one; unset keeps creates open and warns once at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_TOKEN_UNSET_WARNING } from '../../src/http/write-auth.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';

const WRITE_TOKEN = 'a-long-enough-write-token';
const ADMIN_TOKEN = 'a-long-enough-admin-token';
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const product = (id: string): string => JSON.stringify({ id, name: `Product ${id}`, price: 1.5 });
const batch = (...ids: string[]): string => JSON.stringify({ products: ids.map((id) => ({ id, name: `Product ${id}`, price: 2 })) });

describe('with WRITE_TOKEN set', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), WRITE_TOKEN, ADMIN_TOKEN });
  });

  afterAll(async () => {
    await svc.stop();
  });

  it('answers 401 write_unauthorized to creates without bearer credentials, naming the header', async () => {
    const missingOrMalformed: Record<string, string>[] = [{}, { authorization: WRITE_TOKEN }, { authorization: `Basic ${WRITE_TOKEN}` }, { authorization: 'Bearer ' }];
    for (const headers of missingOrMalformed) {
      for (const [path, body] of [['/products', product('NO-TOKEN')], ['/products/batch', batch('NO-TOKEN-B')]] as const) {
        const res = await svc.request(path, { method: 'POST', headers, body });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.body).toEqual({ error: 'write_unauthorized', message: 'writes need the header Authorization: Bearer <WRITE_TOKEN>' });
      }
    }
    expect((await svc.get('/products/NO-TOKEN')).status).toBe(404);
    expect((await svc.get('/products/NO-TOKEN-B')).status).toBe(404);
  });

  it('answers 403 write_forbidden to another token, the admin token included', async () => {
    for (const token of ['wrong', `${WRITE_TOKEN}x`, ADMIN_TOKEN]) {
      const res = await svc.request('/products', { method: 'POST', headers: bearer(token), body: product('WRONG-TOKEN') });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'write_forbidden' });
      const many = await svc.request('/products/batch', { method: 'POST', headers: bearer(token), body: batch('WRONG-TOKEN-B') });
      expect(many.status).toBe(403);
    }
    expect((await svc.get('/products/WRONG-TOKEN')).status).toBe(404);
  });

  it('creates with the right token (scheme case-insensitive)', async () => {
    const res = await svc.request('/products', { method: 'POST', headers: bearer(WRITE_TOKEN), body: product('WITH-TOKEN') });
    expect(res).toMatchObject({ status: 201, body: { id: 'WITH-TOKEN', name: 'Product WITH-TOKEN', price: 1.5 } });
    const many = await svc.request('/products/batch', { method: 'POST', headers: { authorization: `bearer ${WRITE_TOKEN}` }, body: batch('WITH-TOKEN-B') });
    expect(many).toMatchObject({ status: 200, body: { created: 1, conflicts: [] } });
  });

  it('serves reads without a token', async () => {
    expect(await svc.get('/products/WITH-TOKEN')).toMatchObject({ status: 200, body: { id: 'WITH-TOKEN' } });
    expect((await svc.post('/bloom/check', { ids: ['WITH-TOKEN'] })).body).toEqual({ results: [true] });
    for (const path of ['/health', '/bloom/stats', '/stats', '/metrics', '/', '/openapi.json']) expect((await svc.get(path)).status, path).toBe(200);
  });

  it('does not accept the write token on admin routes', async () => {
    expect((await svc.request('/admin/status', { headers: bearer(WRITE_TOKEN) })).status).toBe(401);
  });

  it('does not warn that writes are open', () => {
    expect(svc.logs.filter((line) => line.includes('WRITE_TOKEN'))).toEqual([]);
  });
});

describe('with WRITE_TOKEN unset', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl() });
  });

  afterAll(async () => {
    await svc.stop();
  });

  it('keeps creates open, with or without a header', async () => {
    expect((await svc.post('/products', product('OPEN-1'))).status).toBe(201);
    expect((await svc.request('/products', { method: 'POST', headers: bearer('anything-at-all'), body: product('OPEN-2') })).status).toBe(201);
    expect((await svc.post('/products/batch', batch('OPEN-3'))).body).toEqual({ created: 1, conflicts: [] });
  });

  it('logs one warning at start', () => {
    const warnings = svc.logs.filter((line) => line.includes(WRITE_TOKEN_UNSET_WARNING));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"level":"warn"');
  });
});
