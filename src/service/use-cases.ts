/**
 * The two use cases and what they lean on: the lookup (filter -> cache ->
 * database -> cache fill, with the false-negative audit on its rejections) and
 * the writes (commit -> filter add -> watermark -> snapshot), which share the
 * unconfirmed cache writes and, with a real Redis and LOCAL_CACHE_ENTRIES > 0,
 * the local cache of hot products kept coherent by Redis tracking.
 */
import { CacheInvalidation } from '../cache/cache-invalidation.js';
import { LocalProductCache } from '../cache/local-product-cache.js';
import type { Config } from '../config.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import { MicroBatcher } from '../filter/micro-batcher.js';
import { LookupGuard } from '../guard.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import { snapshotOrigin } from '../persistence/snapshot-origin.js';
import { Snapshotter } from '../persistence/snapshotter.js';
import { Watermark } from '../persistence/watermark.js';
import { ProductWriter } from '../product-writes.js';
import type { ProductCache } from '../store/product-cache.js';
import type { ProductStore } from '../store/product-store.js';
import { redisUrlKind } from '../store/redis-url.js';
import { UnconfirmedCacheWrites } from '../store/unconfirmed-cache-writes.js';
import { FalseNegativeAudit } from '../upkeep/false-negative-audit.js';
import type { ClusterMember } from './cluster.js';
import type { RedisStores } from './open-stores.js';

export interface UseCases {
  readonly watermark: Watermark;
  readonly snapshotter: Snapshotter;
  readonly audit: FalseNegativeAudit;
  readonly guard: LookupGuard;
  readonly writer: ProductWriter;
}

export interface UseCaseDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly products: ProductStore;
  readonly stores: RedisStores;
  readonly active: ActiveFilter;
  readonly closers: CloserStack;
  /** Cluster mode (config.cluster): the guard fails open through it, the writer confirms through it. */
  readonly cluster?: ClusterMember;
}

export function wireUseCases(d: UseCaseDeps): UseCases {
  const { config, logger, metrics, products, active, closers } = d;
  const { redis, cache, snapshots } = d.stores;
  const { cluster } = d;
  const watermark = new Watermark(0);
  const snapshotter = new Snapshotter({
    filter: () => active.filter,
    store: snapshots,
    redis,
    // Cluster: other instances' rows reach the filter through the feed, so the
    // store's horizon says nothing about them; the catch-up's watermark does.
    ...(cluster === undefined
      ? { watermark, horizon: () => products.horizon() }
      : { watermark: cluster.snapshotWatermark, cluster }),
    metrics,
    logger,
    intervalMs: config.snapshotIntervalMs,
    origin: (wm) => snapshotOrigin(products, wm),
  });
  closers.push('snapshotter (final snapshot)', () => snapshotter.close());
  const audit = new FalseNegativeAudit({
    sampleEvery: config.auditSampleEvery,
    maxPerSecond: config.auditMaxPerSecond,
    exists: async (id) => (await products.get(id)) !== undefined,
    // Cluster: a row another instance committed reaches this filter a moment
    // later (feed or catch-up); a catch-up started after the database answered
    // covers it, so it is not reported as a false negative.
    writesEnded: cluster === undefined ? () => watermark.writesEnded() : () => Promise.all([watermark.writesEnded(), cluster.catchUpNow()]).then(() => undefined),
    mayContain: (id) => active.filter.has(id),
    repair: (id) => active.add(id),
    logger,
  });
  closers.push('false-negative audit', () => audit.close());
  const unconfirmed = new UnconfirmedCacheWrites();
  const local = openLocalCache(config, cache, logger, closers);
  const batcher = config.lookupPath === 'pool' ? new MicroBatcher((packed) => active.pool.checkPacked(packed)) : undefined;
  const guard = new LookupGuard({
    filter: () => active.filter,
    cache,
    redis,
    products,
    counters: metrics.lookups,
    unconfirmed,
    audit,
    logger,
    ...(batcher === undefined ? {} : { poolCheck: (id: string) => batcher.check(id) }),
    ...(local === undefined ? {} : { local }),
    ...(cluster === undefined ? {} : { mayRejectFromFilter: () => cluster.mayRejectFromFilter(), trustsNegative: (id: string) => cluster.trustsNegative(id), trustsProduct: (id: string) => cluster.trustsProduct(id) }),
  });
  const writer = new ProductWriter({ products, active, cache, redis, watermark, snapshotter, unconfirmed, logger, flights: guard, ...(cluster === undefined ? {} : { cluster }), ...(local === undefined ? {} : { local }) });
  closers.push('cache-write retries', () => writer.close());
  if (cluster !== undefined) closers.push('lookup flights: remote creates', cluster.onRemoteCreate((ids) => guard.forgetFlights(ids)));
  // Tracking drops the entry too once the delete's Redis write lands; this does not wait for that, and holds when that write failed.
  if (cluster !== undefined && local !== undefined) closers.push('local cache: remote deletes', cluster.onRemoteDelete((id) => local.invalidate(id)));
  const unsubscribe = redis.onStatusChange((healthy) => {
    logger.info(healthy ? 'redis is back' : 'redis unreachable; serving degraded (filter + database)');
    if (healthy) void writer.retryUnconfirmed();
  });
  closers.push('redis status listener', unsubscribe);
  return { watermark, snapshotter, audit, guard, writer };
}

/**
 * The local cache and its invalidation, when on. Tracking needs a real Redis
 * (the in-process stand-in has no CLIENT TRACKING), so memory:// leaves it off.
 * The cache stays suspended (every lookup goes to Redis) until tracking is
 * established, and again whenever it is lost; closed with the service.
 */
function openLocalCache(config: Config, keys: Pick<ProductCache, 'keyFor'>, logger: Logger, closers: CloserStack): LocalProductCache | undefined {
  if (config.localCacheEntries === 0) return undefined;
  if (redisUrlKind(config.redisUrl)?.kind !== 'server') {
    logger.info('local product cache off: it needs a real Redis for invalidation (REDIS_URL is in-process)');
    return undefined;
  }
  const local = new LocalProductCache({ maxEntries: config.localCacheEntries, maxBytes: config.localCacheBytes, maxAgeMs: config.localCacheMaxAgeMs });
  const invalidation = CacheInvalidation.open({ url: config.redisUrl, keys, target: local, commandTimeoutMs: config.redisCommandTimeoutMs, name: 'bloomgate' });
  const stop = invalidation.onChange((up) =>
    up ? logger.info('local product cache on (invalidation tracking established)') : logger.warn('local product cache suspended: invalidation tracking lost'),
  );
  closers.push('local cache invalidation', async () => {
    stop();
    await invalidation.close();
  });
  return local;
}
