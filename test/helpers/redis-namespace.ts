/**
 * Test isolation on the Redis shared by every test (the run's Redis, see
 * test/helpers/test-services.ts): each test
 * takes its own namespace and deletes only that namespace's keys afterwards.
 * Never FLUSHALL the shared server; use test/helpers/private-redis.ts for that.
 *
 * @example
 *   const ns = uniqueNamespace('cache');                 // 'cache-3f9a1c0b2e7d'
 *   afterEach(() => deleteNamespaceKeys(redis.client, ns));
 */
import type { Redis } from 'ioredis';
import { uniqueSuffix } from './ids.js';
import { testRedisUrl } from './test-services.js';

/** The shared Redis every non-destructive test may use (TEST_REDIS_URL, set by test/global-setup.ts). */
export const SHARED_REDIS_URL = testRedisUrl();

/** A namespace no other test (or run) uses; valid for BLOOM_STATE_NAMESPACE. */
export function uniqueNamespace(prefix = 'test'): string {
  return `${prefix}-${uniqueSuffix()}`;
}

/** An in-process Redis URL with its own data. */
export function uniqueMemoryUrl(): string {
  return `memory://${uniqueNamespace('mem')}`;
}

/** Deletes every `bloom:cache:<ns>:*` and `bloom:state:<ns>:*` key; returns how many. */
export async function deleteNamespaceKeys(client: Redis, namespace: string): Promise<number> {
  return (await deleteKeysMatching(client, `bloom:cache:${namespace}:*`)) + (await deleteKeysMatching(client, `bloom:state:${namespace}:*`));
}

/** Deletes every key matching the glob `pattern` (SCAN, not KEYS); returns how many. */
export async function deleteKeysMatching(client: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
