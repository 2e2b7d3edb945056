/**
 * Every route's real answers, error answers included, validate against the
 * OpenAPI document served at GET /openapi.json (the same as
 * src/http/openapi.json): success bodies, 400 bad id and body, 401/403 for
 * admin and write, 404 product and route, 405, 409, 413 and 503. A full
 * in-process service answers most; the HTTP layer over a stub service answers
 * what a healthy service cannot be made to (503 starting and shutting_down,
 * 409 rebuild_in_progress, 503 database_unavailable). At the end, every
 * documented answer but 500 must have been seen, so a new route or status
 * without a real answer here fails.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, RebuildInProgressError } from '../../src/errors.js';
import { AdminAuth } from '../../src/http/admin-auth.js';
import type { OpenApiDocument } from '../../src/http/openapi.js';
import { HttpServer, type HttpApi, type Phase } from '../../src/http/server.js';
import { WriteAuth } from '../../src/http/write-auth.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/registry.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { OpenApiValidator } from '../helpers/openapi-validator.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';

const WRITE_TOKEN = 'openapi-test-write-token';
const ADMIN_TOKEN = 'openapi-test-admin-token';
const FILE_IDS = ['SKU-1', 'SKU-2', 'SKU-3'];
const write = { authorization: `Bearer ${WRITE_TOKEN}` };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

let validator: OpenApiValidator;
let doc: OpenApiDocument;
/** `METHOD /template status` of every answer validated. */
const seen = new Set<string>();

/** Sends a request, validates the answer against the document, records it; returns status and body. */
async function call(base: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, { method, ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const checked = validator.check(method, path, res.status, res.headers.get('content-type'), text);
  expect(checked.problems, `${method} ${path} -> ${res.status}`).toEqual([]);
  if (res.status === 405) expect(res.headers.get('allow')).not.toBeNull();
  seen.add(`${checked.operation} ${res.status}`);
  return { status: res.status, text };
}

const product = (id: string): string => JSON.stringify({ id, name: `Product ${id}`, price: 2.5 });

describe('every answer matches the OpenAPI document', () => {
  let svc: TestService;
  let open: TestService;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bloomgate-openapi-'));
    writeFileSync(join(dir, 'products.txt'), FILE_IDS.join('\n') + '\n');
    // A stale-ratio rebuild after the test's delete would make the manual rebuild's answer a race (202 or 409).
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl(), WRITE_TOKEN, ADMIN_TOKEN, REBUILD_STALE_RATIO: '0.99' }, dir);
    open = await startTestService({ REDIS_URL: uniqueMemoryUrl() });
    const served = await fetch(`${svc.url}/openapi.json`);
    doc = (await served.json()) as OpenApiDocument;
    validator = new OpenApiValidator(doc);
  });

  afterAll(async () => {
    await svc?.stop();
    await open?.stop();
  });

  it('serves the document kept in src/http/openapi.json', () => {
    expect(doc).toEqual(JSON.parse(readFileSync(new URL('../../src/http/openapi.json', import.meta.url), 'utf8')));
  });

  it('product routes: lookups, creates, batches, checks and deletes', async () => {
    const u = svc.url;
    expect((await call(u, 'GET', '/products/SKU-1')).status).toBe(200); // database
    expect((await call(u, 'GET', '/products/SKU-1')).status).toBe(200); // cache
    expect((await call(u, 'GET', '/products/NOPE')).status).toBe(404);
    expect((await call(u, 'GET', `/products/${'x'.repeat(300)}`)).status).toBe(400);
    expect((await call(u, 'GET', '/products/%FF')).status).toBe(400);

    expect((await call(u, 'POST', '/products', { headers: write, body: product('NEW-1') })).status).toBe(201);
    expect((await call(u, 'POST', '/products', { headers: write, body: product('NEW-1') })).status).toBe(409);
    expect((await call(u, 'POST', '/products', { headers: write, body: '{"id":"","price":-1}' })).status).toBe(400);
    expect((await call(u, 'POST', '/products', { headers: write, body: 'not json' })).status).toBe(400);
    expect((await call(u, 'POST', '/products', { headers: write, body: JSON.stringify({ id: 'BIG', name: 'x'.repeat(70_000), price: 1 }) })).status).toBe(413);
    expect((await call(u, 'POST', '/products', { body: product('NEW-2') })).status).toBe(401);
    expect((await call(u, 'POST', '/products', { headers: admin, body: product('NEW-2') })).status).toBe(403);

    const batch = JSON.stringify({ products: [{ id: 'B-1', name: 'b', price: 1 }, { id: 'NEW-1', name: 'b', price: 1 }] });
    expect((await call(u, 'POST', '/products/batch', { headers: write, body: batch })).status).toBe(200);
    expect((await call(u, 'POST', '/products/batch', { headers: write, body: '{"products":[{"id":1}]}' })).status).toBe(400);
    expect((await call(u, 'POST', '/products/batch', { headers: write, body: JSON.stringify({ products: Array.from({ length: 10_001 }, () => ({})) }) })).status).toBe(413);
    expect((await call(u, 'POST', '/products/batch', { body: batch })).status).toBe(401);
    expect((await call(u, 'POST', '/products/batch', { headers: { authorization: 'Bearer wrong-token' }, body: batch })).status).toBe(403);

    expect((await call(u, 'POST', '/bloom/check', { body: '{"ids":["SKU-1","NOPE"]}' })).status).toBe(200);
    expect((await call(u, 'POST', '/bloom/check', { body: '{"ids":[]}' })).status).toBe(400);
    expect((await call(u, 'POST', '/bloom/check', { body: JSON.stringify({ ids: Array.from({ length: 10_001 }, (_, i) => `i${i}`) }) })).status).toBe(413);

    const update = JSON.stringify({ name: 'Renamed', price: 3.75 });
    expect((await call(u, 'PUT', '/products/NEW-1', { headers: write, body: update })).status).toBe(200);
    expect((await call(u, 'PUT', '/products/NOPE', { headers: write, body: update })).status).toBe(404);
    expect((await call(u, 'PUT', '/products/NEW-1', { headers: write, body: '{"name":"","price":-1}' })).status).toBe(400);
    expect((await call(u, 'PUT', '/products/%FF', { headers: write, body: update })).status).toBe(400);
    expect((await call(u, 'PUT', '/products/NEW-1', { headers: write, body: JSON.stringify({ name: 'x'.repeat(70_000), price: 1 }) })).status).toBe(413);
    expect((await call(u, 'PUT', '/products/NEW-1', { body: update })).status).toBe(401);
    expect((await call(u, 'PUT', '/products/NEW-1', { headers: admin, body: update })).status).toBe(403);

    expect((await call(u, 'DELETE', '/products/NEW-1', { headers: admin })).status).toBe(204);
    expect((await call(u, 'DELETE', '/products/NEW-1', { headers: admin })).status).toBe(404);
    expect((await call(u, 'DELETE', '/products/%FF', { headers: admin })).status).toBe(400);
    expect((await call(u, 'DELETE', '/products/SKU-2')).status).toBe(401);
    expect((await call(open.url, 'DELETE', '/products/SKU-2', { headers: admin })).status).toBe(403);
  });

  it('report, admin, document and unmatched routes', async () => {
    const u = svc.url;
    for (const path of ['/bloom/stats', '/health', '/stats', '/metrics', '/', '/openapi.json']) expect((await call(u, 'GET', path)).status, path).toBe(200);
    expect((await call(u, 'GET', '/admin/status', { headers: admin })).status).toBe(200);
    expect((await call(u, 'GET', '/admin/status')).status).toBe(401);
    expect((await call(open.url, 'GET', '/admin/status', { headers: admin })).status).toBe(403);
    expect((await call(u, 'POST', '/admin/rebuild', { headers: admin })).status).toBe(202);
    expect((await call(u, 'POST', '/admin/rebuild', { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    expect((await call(open.url, 'POST', '/admin/rebuild', { headers: admin })).status).toBe(403);
    expect((await call(u, 'GET', '/nowhere')).status).toBe(404);
    expect((await call(u, 'PUT', '/health')).status).toBe(405);
    expect((await call(u, 'PATCH', '/products/SKU-1')).status).toBe(405);
  });

  describe('over a stub service', () => {
    let server: HttpServer | undefined;
    afterAll(async () => {
      await server?.close(100);
    });

    async function serveStub(phase: Phase): Promise<string> {
      await server?.close(100);
      const unavailable = (): never => {
        throw new DatabaseUnavailableError('stub: timed out');
      };
      // Its report bodies are smaller than the service's: only error answers are validated here.
      const api: HttpApi = {
        phase: () => phase,
        guard: { inline: true, rejects: () => false, localHit: () => undefined, rejectsInPool: async () => false, resolve: async () => unavailable() },
        writer: { create: unavailable, createBatch: unavailable, delete: unavailable, update: unavailable },
        checkIds: async (ids) => new Uint8Array(ids.length),
        metrics: new Metrics(),
        logger: createLogger('silent'),
        health: () => ({ status: 503, body: { status: phase === 'starting' ? 'starting' : 'draining' } }),
        bloomStats: () => ({}),
        adminAuth: new AdminAuth(ADMIN_TOKEN),
        writeAuth: new WriteAuth(undefined),
        startRebuild: () => {
          throw new RebuildInProgressError();
        },
        adminStatus: () => ({}),
        statusPage: '',
      };
      server = new HttpServer(api);
      return `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    }

    it('503 starting on every route that needs the filter', async () => {
      const u = await serveStub('starting');
      expect((await call(u, 'GET', '/health')).status).toBe(503);
      expect((await call(u, 'GET', '/bloom/stats')).status).toBe(503);
      expect((await call(u, 'GET', '/products/x')).status).toBe(503);
      expect((await call(u, 'POST', '/products', { body: product('S') })).status).toBe(503);
      expect((await call(u, 'POST', '/products/batch', { body: '{"products":[]}' })).status).toBe(503);
      expect((await call(u, 'POST', '/bloom/check', { body: '{"ids":["a"]}' })).status).toBe(503);
      expect((await call(u, 'DELETE', '/products/x', { headers: admin })).status).toBe(503);
      expect((await call(u, 'PUT', '/products/x', { body: '{"name":"n","price":1}' })).status).toBe(503);
      expect((await call(u, 'POST', '/admin/rebuild', { headers: admin })).status).toBe(503);
      expect((await call(u, 'GET', '/admin/status', { headers: admin })).status).toBe(503);
    });

    it('503 shutting_down while draining', async () => {
      const u = await serveStub('draining');
      expect((await call(u, 'GET', '/health')).status).toBe(503);
      expect((await call(u, 'GET', '/products/x')).status).toBe(503);
      expect((await call(u, 'POST', '/products', { body: product('S') })).status).toBe(503);
    });

    it('409 rebuild_in_progress and 503 database_unavailable', async () => {
      const u = await serveStub('ready');
      expect((await call(u, 'POST', '/admin/rebuild', { headers: admin })).status).toBe(409);
      expect((await call(u, 'GET', '/products/x')).status).toBe(503);
      expect((await call(u, 'POST', '/products', { body: product('S') })).status).toBe(503);
      expect((await call(u, 'POST', '/products/batch', { body: JSON.stringify({ products: [{ id: 'S', name: 's', price: 1 }] }) })).status).toBe(503);
      expect((await call(u, 'DELETE', '/products/x', { headers: admin })).status).toBe(503);
      expect((await call(u, 'PUT', '/products/x', { body: '{"name":"n","price":1}' })).status).toBe(503);
    });
  });

  it('saw every documented answer but 500', () => {
    const documented: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const status of Object.keys(op.responses)) if (status !== '500') documented.push(`${method.toUpperCase()} ${path} ${status}`);
      }
    }
    expect(documented.filter((answer) => !seen.has(answer))).toEqual([]);
    expect(seen.has('unmatched 404') && seen.has('unmatched 405')).toBe(true);
  });
});
