/** The route table: one row per route, from which the Allow headers and metric labels derive. */
import { describe, expect, it } from 'vitest';
import { ROUTES, UNMATCHED_LABEL, allowedMethods } from '../../src/http/routes.js';

describe('ROUTES', () => {
  it('declares each method and pattern once, labelled "<METHOD> <pattern>" as the dashboards query them', () => {
    const keys = ROUTES.map((r) => `${r.method} ${r.pattern}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const r of ROUTES) expect(r.label).toBe(`${r.method} ${r.pattern}`);
    expect(keys).not.toContain(UNMATCHED_LABEL);
  });

  it('derives the Allow header of each pattern from its rows', () => {
    const allowed = allowedMethods(ROUTES);
    expect(allowed.get('/products/:id')).toEqual(['GET', 'PUT', 'DELETE']);
    expect(allowed.get('/health')).toEqual(['GET']);
    expect(allowed.get('/products/batch')).toEqual(['POST']);
  });

  it('puts admin routes behind the admin token, creates behind the write token, and product routes behind the ready phase', () => {
    const admin = ROUTES.filter((r) => r.auth === 'admin').map((r) => r.label);
    expect(admin.sort()).toEqual(['DELETE /products/:id', 'GET /admin/status', 'POST /admin/rebuild']);
    const write = ROUTES.filter((r) => r.auth === 'write').map((r) => r.label);
    expect(write.sort()).toEqual(['POST /products', 'POST /products/batch', 'PUT /products/:id']);
    // Reads never need a token.
    for (const r of ROUTES) if (r.method === 'GET' && r.pattern !== '/admin/status') expect(r.auth, r.label).toBe('none');
    const alwaysAnswer = ROUTES.filter((r) => r.needs === 'nothing').map((r) => r.label);
    expect(alwaysAnswer.sort()).toEqual(['GET /', 'GET /health', 'GET /metrics', 'GET /openapi.json', 'GET /stats']);
  });
});
