/** The HTTP layer alone, over a stub service: what it answers in each phase. */
import { afterEach, describe, expect, it } from 'vitest';
import { AdminAuth } from '../../src/http/admin-auth.js';
import { WriteAuth } from '../../src/http/write-auth.js';
import { HttpServer, type HttpApi, type Phase } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/registry.js';

let server: HttpServer | undefined;

afterEach(async () => {
  await server?.close(100);
  server = undefined;
});

function unreachable(): never {
  throw new Error('not used by these tests');
}

async function serve(phase: Phase, adminToken?: string): Promise<string> {
  // A stub's report bodies are smaller than the service's named shapes.
  const api: HttpApi = {
    phase: () => phase,
    // Every id is rejected by the filter; nothing reaches the writer in these tests.
    guard: { inline: true, rejects: () => true, localHit: () => undefined, rejectsInPool: async () => true, resolve: async () => ({ found: false, source: 'database' }) },
    writer: { create: unreachable, createBatch: unreachable, delete: unreachable, update: unreachable },
    checkIds: async (ids) => new Uint8Array(ids.length),
    metrics: new Metrics(),
    logger: createLogger('silent'),
    health: () => (phase === 'ready' ? { status: 200, body: { status: 'ok' } } : { status: 503, body: { status: phase } }),
    bloomStats: () => ({}),
    adminAuth: new AdminAuth(adminToken),
    writeAuth: new WriteAuth(undefined),
    startRebuild: () => ({ started: true }),
    adminStatus: () => ({ rebuild: { running: false } }),
    statusPage: '<!doctype html><title>status</title>',
  };
  server = new HttpServer(api);
  const port = await server.listen('127.0.0.1', 0);
  return `http://127.0.0.1:${port}`;
}

describe('HttpServer phases', () => {
  it('answers 503 starting on health and product routes before the filter is loaded', async () => {
    const url = await serve('starting');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'starting' });
    const lookup = await fetch(`${url}/products/x`);
    expect(lookup.status).toBe(503);
    expect(await lookup.json()).toMatchObject({ error: 'starting' });
    const create = await fetch(`${url}/products`, { method: 'POST', body: '{"id":"a","name":"b","price":1}' });
    expect(create.status).toBe(503);
    expect((await fetch(`${url}/bloom/check`, { method: 'POST', body: '{"ids":["a"]}' })).status).toBe(503);
    // Metrics stay scrapeable while starting.
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('answers 503 shutting_down while draining', async () => {
    const url = await serve('draining');
    const lookup = await fetch(`${url}/products/x`);
    expect(lookup.status).toBe(503);
    expect(await lookup.json()).toMatchObject({ error: 'shutting_down' });
  });

  it('counts each answer in the request histogram by route and status', async () => {
    const url = await serve('ready');
    await fetch(`${url}/products/x`);
    await fetch(`${url}/products/x`);
    await fetch(`${url}/nowhere`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('bloomgate_http_request_duration_seconds_count{route="GET /products/:id",status="404"} 2');
    expect(text).toContain('bloomgate_http_request_duration_seconds_count{route="unmatched",status="404"} 1');
  });
});

describe('admin authentication', () => {
  const TOKEN = 'a-long-enough-admin-token';
  const auth = (value: string) => ({ headers: { authorization: value } });

  it('answers 403 admin_disabled on every admin route when ADMIN_TOKEN is not configured', async () => {
    const url = await serve('ready');
    for (const [method, path] of [['GET', '/admin/status'], ['POST', '/admin/rebuild'], ['DELETE', '/products/x']] as const) {
      const res = await fetch(url + path, { method, ...auth(`Bearer ${TOKEN}`) });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'admin_disabled', message: 'admin routes are disabled: set ADMIN_TOKEN to enable them' });
    }
  });

  it('answers 401 without a token, with a wrong token, or with another scheme', async () => {
    const url = await serve('ready', TOKEN);
    for (const init of [{}, auth('Bearer wrong'), auth(`Bearer ${TOKEN}x`), auth(`Basic ${TOKEN}`), auth(TOKEN), auth('Bearer ')]) {
      const res = await fetch(`${url}/admin/status`, init);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('lets the right token through (scheme case-insensitive)', async () => {
    const url = await serve('ready', TOKEN);
    const status = await fetch(`${url}/admin/status`, auth(`Bearer ${TOKEN}`));
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ rebuild: { running: false } });
    const rebuild = await fetch(`${url}/admin/rebuild`, { method: 'POST', ...auth(`bearer ${TOKEN}`) });
    expect(rebuild.status).toBe(202);
  });

  it('serves the status page as HTML at /', async () => {
    const url = await serve('ready');
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<title>status</title>');
  });
});
