/**
 * Runs a whole bloomgate service in the test process, on a free port, with its
 * own SQLite file and Redis namespace, and the real HTTP server.
 *
 * @example
 *   const svc = await startTestService({ REDIS_URL: SHARED_REDIS_URL, PRODUCTS_FILE: file });
 *   const res = await svc.get('/products/SKU-1');
 *   await svc.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type LogLevel } from '../../src/logger.js';
import { startService, type Service } from '../../src/service.js';
import { uniqueNamespace } from './redis-namespace.js';

export interface TestService {
  readonly service: Service;
  readonly config: Config;
  readonly url: string;
  readonly dir: string;
  readonly logs: string[];
  /** `T`: the shape the caller expects the JSON body to have (e.g. a type of src/http/status-bodies.ts); the assertions check it. */
  get<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }>;
  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  request<T = Record<string, unknown>>(path: string, init: RequestInit): Promise<{ status: number; body: T; headers: Headers }>;
  /** Closes the service (final snapshot) but keeps the directory, for restarts. */
  close(): Promise<void>;
  /** Closes and removes the directory. */
  stop(): Promise<void>;
}

export interface TestServiceOptions {
  /** DATABASE_URL: a `postgres://` URL runs on PostgreSQL (e.g. createTestDatabase().url); unset: SQLite in `dir`. */
  readonly databaseUrl?: string;
}

export async function startTestService(
  env: Record<string, string> = {},
  dir = mkdtempSync(join(tmpdir(), 'bloomgate-svc-')),
  options: TestServiceOptions = {},
): Promise<TestService> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DB_PATH: join(dir, 'products.db'),
    ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
    PRODUCTS_FILE: join(dir, 'products.txt'),
    BLOOM_STATE_NAMESPACE: uniqueNamespace('svc'),
    WORKERS: '1',
    SQLITE_SYNCHRONOUS: 'normal',
    ...env,
  });
  const logs: string[] = [];
  const logger = createLogger((env.LOG_LEVEL as LogLevel | undefined) ?? 'info', (line) => logs.push(line));
  const service = await startService(config, logger);
  await service.ready;
  const url = `http://127.0.0.1:${service.port}`;
  const request = async <T = Record<string, unknown>>(path: string, init: RequestInit) => {
    const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: unknown = {};
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = { text };
    }
    // JSON.parse returns any: the caller names the shape it expects, and its assertions check it.
    return { status: res.status, body: body as T, headers: res.headers };
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await service.close();
  };
  return {
    service,
    config,
    url,
    dir,
    logs,
    request,
    get: <T = Record<string, unknown>>(path: string) => request<T>(path, { method: 'GET' }),
    post: (path, body) => request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) }),
    close,
    stop: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
