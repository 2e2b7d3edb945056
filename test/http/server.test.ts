/** The HTTP layer alone, over a stub service: what it answers in each phase. */
import { afterEach, describe, expect, it } from 'vitest';
import type { LookupGuard } from '../../src/guard.js';
import { HttpServer, type HttpApi, type Phase } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { ProductWriter } from '../../src/product-writes.js';

let server: HttpServer | undefined;

afterEach(async () => {
  await server?.close(100);
  server = undefined;
});

async function serve(phase: Phase): Promise<string> {
  const api: HttpApi = {
    phase: () => phase,
    guard: { rejects: () => true } as unknown as LookupGuard,
    writer: {} as ProductWriter,
    checkIds: async (ids) => new Uint8Array(ids.length),
    metrics: new Metrics(),
    logger: createLogger('silent'),
    health: () => (phase === 'ready' ? { status: 200, body: { status: 'ok' } } : { status: 503, body: { status: phase } }),
    bloomStats: () => ({}),
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
