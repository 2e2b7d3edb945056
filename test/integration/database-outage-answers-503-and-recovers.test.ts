/**
 * The product database going away (issue 10, section 3), on PostgreSQL behind
 * a proxy that can black-hole its traffic:
 *
 * - at start: the listener opens anyway, /health answers 503 with the reason
 *   `database_unavailable`, and opening is retried until the database answers;
 * - while serving: the filter keeps answering 404 for absent ids, a lookup that
 *   needs the database answers 503 `database_unavailable` (never 404), a create
 *   answers 503, /health says degraded; when the database is back, lookups and
 *   creates work again with no restart. The outage also cut the connection that
 *   held the instance lock: that is reported as fatal (src/index.ts exits on it).
 *
 * Redis points at a closed port, so every lookup the filter passes goes to the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startService, type Service } from '../../src/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.js';
import { uniqueNamespace } from '../helpers/redis-namespace.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const TIMEOUT_MS = 500;

let db: TestDatabase | undefined;
let proxy: TcpProxy | undefined;
let service: Service | undefined;
let dir: string | undefined;

afterEach(async () => {
  await service?.close();
  await proxy?.close();
  await db?.drop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  service = undefined;
  proxy = undefined;
  db = undefined;
  dir = undefined;
});

async function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), ms: performance.now() - started };
}

describe('the product database going away', () => {
  it('closes promptly while still waiting for an unreachable database at start', { timeout: 30_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'bloomgate-outage-'));
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', // nothing listens: connections are refused
      DATABASE_TIMEOUT_MS: String(TIMEOUT_MS),
      PRODUCTS_FILE: join(dir, 'none.txt'),
      REDIS_URL: 'memory://',
      BLOOM_STATE_NAMESPACE: uniqueNamespace('outage'),
      WORKERS: '1',
    });
    const waiting = await startService(config, createLogger('silent'));
    expect(await call(waiting.port, 'GET', '/health')).toMatchObject({ status: 503, body: { status: 'starting', reason: 'database_unavailable' } });
    await waiting.close(); // must not wait for the database
    await expect(waiting.ready).rejects.toThrow(/closed before the product database answered/);
  });

  it('answers 503 database_unavailable (never 404), refuses creates, says degraded, and recovers without a restart', { timeout: 60_000 }, async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startTcpProxy(Number(target.port || 5432));
    target.port = String(proxy.port);
    dir = mkdtempSync(join(tmpdir(), 'bloomgate-outage-'));
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: target.toString(),
      DATABASE_TIMEOUT_MS: String(TIMEOUT_MS),
      PRODUCTS_FILE: join(dir, 'none.txt'),
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_COMMAND_TIMEOUT_MS: '100',
      CLUSTER_MODE: 'off', // one instance with the instance lock (its loss is asserted below)
      BLOOM_STATE_NAMESPACE: uniqueNamespace('outage'),
      WORKERS: '1',
    });
    const fatal: Error[] = [];

    // At start the database does not answer: the listener is up, /health says why, opening is retried.
    proxy.blackhole(true);
    service = await startService(config, createLogger('silent'), { onFatal: (err) => void fatal.push(err) });
    const { port } = service;
    expect(await call(port, 'GET', '/health')).toMatchObject({ status: 503, body: { status: 'starting', reason: 'database_unavailable' } });
    expect((await call(port, 'GET', '/products/x')).status).toBe(503);
    proxy.blackhole(false);
    await service.ready;
    expect(await call(port, 'GET', '/health')).toMatchObject({ status: 200, body: { database: 'up' } });

    expect((await call(port, 'POST', '/products', { id: 'KEPT-1', name: 'k', price: 1 })).status).toBe(201);
    expect(await call(port, 'GET', '/products/KEPT-1')).toMatchObject({ status: 200, body: { source: 'database' } });

    // While serving, the database goes silent.
    proxy.blackhole(true);
    const lookup = await call(port, 'GET', '/products/KEPT-1');
    expect(lookup, 'an existing id the database cannot confirm').toMatchObject({ status: 503, body: { error: 'database_unavailable' } });
    console.log(`[outage] lookup answered 503 after ${Math.round(lookup.ms)} ms (DATABASE_TIMEOUT_MS=${TIMEOUT_MS})`);
    expect(await call(port, 'GET', '/products/NEVER-CREATED'), 'the filter still answers').toMatchObject({ status: 404, body: { source: 'bloom_filter' } });
    expect(await call(port, 'POST', '/products', { id: 'DURING-1', name: 'd', price: 1 })).toMatchObject({ status: 503, body: { error: 'database_unavailable' } });
    expect(await call(port, 'GET', '/health')).toMatchObject({ status: 200, body: { status: 'degraded', database: 'down' } });

    // Back: everything works again without a restart.
    proxy.blackhole(false);
    await waitFor('the database check to see it back', async () => ((await call(port, 'GET', '/health')).body.database === 'up'), 15_000);
    expect(await call(port, 'GET', '/products/KEPT-1')).toMatchObject({ status: 200 });
    expect((await call(port, 'POST', '/products', { id: 'AFTER-1', name: 'a', price: 1 })).status).toBe(201);
    expect((await call(port, 'GET', '/products/AFTER-1')).status).toBe(200);
    // The outage cut the connection holding the instance lock: reported, for the process to stop.
    await waitFor('the lost instance lock to be reported', () => fatal.length > 0, 15_000);
    expect(fatal[0]?.message).toMatch(/instance lock/);
  });
});
