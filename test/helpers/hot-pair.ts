/**
 * Two bloomgate services sharing one Redis namespace (so one cache prefix and
 * one tracking prefix), for the local-cache tests, in this process.
 *   - SQLite: each on its own file with the same imported products (two
 *     processes cannot share a SQLite file). For cache invalidation that is
 *     enough: what one instance writes to Redis is what the other must stop
 *     serving from its local cache.
 *   - PostgreSQL (`databaseUrl`): both on one database, in cluster mode (real
 *     Redis), as a deployment runs them.
 *
 * @example
 *   const pair = await startHotPair(redisUrl, ['SKU-1', 'SKU-2']);
 *   await pair.a.request('/products/SKU-1', { method: 'PUT', body: '{"name":"n","price":2}' });
 *   await pair.stop();
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService, type TestService } from './in-process-service.js';
import { uniqueNamespace } from './redis-namespace.js';
import { waitFor } from './wait-for.js';

export interface HotPair {
  readonly a: TestService;
  readonly b: TestService;
  readonly namespace: string;
  stop(): Promise<void>;
}

/** True once the service logged that its local cache is on (tracking established) since log line `from`. */
export function localCacheOn(svc: TestService, from = 0): boolean {
  let on = false;
  for (const line of svc.logs.slice(from)) {
    if (line.includes('local product cache on')) on = true;
    else if (line.includes('local product cache suspended')) on = false;
  }
  return on;
}

export async function startHotPair(redisUrl: string, ids: readonly string[], env: Record<string, string> = {}, databaseUrl?: string): Promise<HotPair> {
  const namespace = uniqueNamespace('hot');
  const start = (): Promise<TestService> => {
    const dir = mkdtempSync(join(tmpdir(), 'bloomgate-hot-'));
    writeFileSync(join(dir, 'products.txt'), ids.join('\n') + '\n');
    // SQLite: both write snapshots under the shared namespace; a long interval keeps that churn out of the way.
    const all = { REDIS_URL: redisUrl, BLOOM_STATE_NAMESPACE: namespace, SNAPSHOT_INTERVAL_MS: '600000', AUDIT_SAMPLE_EVERY: '0', ...env };
    return startTestService(all, dir, databaseUrl === undefined ? {} : { databaseUrl });
  };
  // One after the other: on one PostgreSQL database the first imports the file, the second finds it imported.
  const a = await start();
  const b = await start();
  await waitFor('local cache tracking on both instances', () => localCacheOn(a) && localCacheOn(b));
  return {
    a,
    b,
    namespace,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/** GET twice: the first fills the local cache from Redis (or Redis from the database), the second is answered locally. */
export async function warm(svc: TestService, id: string): Promise<void> {
  for (let i = 0; i < 3; i++) await svc.get(`/products/${encodeURIComponent(id)}`);
}

/** Nearest-rank percentile of `values` (sorted here). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}
