/**
 * The stores of the composition root: the product database first (the filter
 * is sized from it), then Redis with the cache and the snapshot store on it.
 * Each pushes its close as it opens.
 */
import type { Config } from '../config.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import type { Logger } from '../logger.js';
import { ProductCache } from '../store/product-cache.js';
import { ProductStore } from '../store/products.js';
import { RedisConnection } from '../store/redis-connection.js';
import { redactUrl } from '../store/redis-url.js';
import { SnapshotStore } from '../store/snapshot-store.js';

/** How long start-up waits for Redis before going on degraded (it keeps reconnecting). */
const REDIS_START_WAIT_MS = 2_000;

export function openProducts(config: Config, closers: CloserStack): ProductStore {
  const products = ProductStore.open({ path: config.dbPath, synchronous: config.sqliteSynchronous });
  closers.push('product database', () => products.close());
  return products;
}

export interface RedisStores {
  readonly redis: RedisConnection;
  readonly cache: ProductCache;
  readonly snapshots: SnapshotStore;
}

/** Opens Redis and waits up to 2 s for it; a Redis that is away means starting degraded, not failing. */
export async function openRedisStores(config: Config, logger: Logger, closers: CloserStack): Promise<RedisStores> {
  const redis = RedisConnection.open({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, name: 'bloomgate' });
  closers.push('redis', () => redis.close());
  await redis
    .waitReady(REDIS_START_WAIT_MS)
    .catch((err: unknown) => logger.warn('redis not reachable; starting degraded', { err, url: redactUrl(config.redisUrl) }));
  return {
    redis,
    cache: new ProductCache({ redis, namespace: config.namespace, ttlS: config.cacheTtlS, negativeTtlS: config.negativeTtlS }),
    snapshots: new SnapshotStore({ redis, namespace: config.namespace }),
  };
}
