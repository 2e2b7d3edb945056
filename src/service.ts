/**
 * The composition root: config -> stores -> filter + pool -> HTTP, then the
 * filter load, then ready (audit, rebuild triggers). `close()` shuts down in
 * reverse order of opening.
 *
 * After the start-up load, everything reads the filter and its pool through
 * one ActiveFilter, so an online rebuild (src/upkeep/online-rebuild.ts) can swap both.
 *
 * Kept apart from src/index.ts (signals, exit codes) so tests can run a whole
 * service in-process.
 *
 * @example
 *   const service = await startService(loadConfig(process.env), createLogger('info'));
 *   await service.ready;   // filter loaded; product routes answer
 *   await service.close(); // drain, final snapshot, close pool, Redis, SQLite
 */
import { randomInt } from 'node:crypto';
import type { Config } from './config.js';
import { RebuildInProgressError } from './errors.js';
import { FalseNegativeAudit } from './upkeep/false-negative-audit.js';
import { ActiveFilter } from './filter/active-filter.js';
import { BloomFilter } from './filter/bloom-filter.js';
import { seedFingerprint } from './filter/hash.js';
import { packIds } from './filter/id-batch.js';
import { allocateFilterBuffer, createLayout } from './filter/layout.js';
import { MicroBatcher } from './filter/micro-batcher.js';
import { FilterPool } from './filter/pool.js';
import { computeFilterParams, estimateFpr } from './filter/sizing.js';
import { CAPACITY_SETTING, FilterRebuilder } from './upkeep/online-rebuild.js';
import { LookupGuard } from './guard.js';
import { AdminAuth } from './http/admin-auth.js';
import { HttpServer, type Phase } from './http/server.js';
import { STATUS_PAGE_HTML } from './http/status-page.js';
import type { Logger } from './logger.js';
import { ObservedFpr } from './metrics/observed-fpr.js';
import { Metrics } from './metrics/registry.js';
import { loadFilter, type LoadReport } from './persistence/filter-loader.js';
import { snapshotOrigin } from './persistence/snapshot-origin.js';
import { Snapshotter } from './persistence/snapshotter.js';
import { StatusReport } from './http/status-report.js';
import { Watermark } from './persistence/watermark.js';
import { ProductWriter } from './product-writes.js';
import { RebuildTriggers } from './upkeep/rebuild-triggers.js';
import { ProductCache } from './store/product-cache.js';
import { ProductStore } from './store/products.js';
import { RedisConnection } from './store/redis-connection.js';
import { SnapshotStore } from './store/snapshot-store.js';
import { UnconfirmedCacheWrites } from './store/unconfirmed-cache-writes.js';

export interface Service {
  readonly port: number;
  /** Resolves when the filter is loaded and product routes answer; rejects if loading failed. */
  readonly ready: Promise<LoadReport>;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/** How long start-up waits for Redis before going on degraded (it keeps reconnecting). */
const REDIS_START_WAIT_MS = 2_000;

/** The hash seed: configured, or generated once and kept in the database so it survives Redis. */
function resolveSeed(config: Config, products: ProductStore): number {
  if (config.hashSeed !== undefined) return config.hashSeed;
  return Number(products.initSetting('hash_seed', String(randomInt(0, 2 ** 32))));
}

/**
 * The capacity to size the filter for: BLOOM_CAPACITY, or more if an online
 * rebuild grew the filter before (kept in the database), so a restart sizes
 * the filter as its last snapshot was and can restore it.
 */
function resolveCapacity(config: Config, products: ProductStore): number {
  const grown = Number(products.setting(CAPACITY_SETTING) ?? 0);
  return Number.isSafeInteger(grown) && grown > config.capacity ? grown : config.capacity;
}

export async function startService(config: Config, logger: Logger): Promise<Service> {
  const metrics = new Metrics();
  const startedAt = Date.now();

  const products = ProductStore.open({ path: config.dbPath, synchronous: config.sqliteSynchronous });
  const params = computeFilterParams(resolveCapacity(config, products), config.targetFpr, config.shards);
  const layout = createLayout(params, resolveSeed(config, products));
  const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
  const onWorkerError = (err: unknown): void => logger.error('filter worker died; piscina replaces it', { err });
  const pool = new FilterPool({ filter, threads: config.workers, onWorkerError });
  // Everything after the start-up load reads the filter and pool through `active`: an online rebuild swaps them.
  const active = new ActiveFilter({ filter, pool });

  const redis = RedisConnection.open({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, name: 'bloomgate' });
  await redis.waitReady(REDIS_START_WAIT_MS).catch((err: unknown) => logger.warn('redis not reachable; starting degraded', { err, url: redactUrl(config.redisUrl) }));

  const cache = new ProductCache({ redis, namespace: config.namespace, ttlS: config.cacheTtlS, negativeTtlS: config.negativeTtlS });
  const snapshots = new SnapshotStore({ redis, namespace: config.namespace });
  const watermark = new Watermark(0);
  const snapshotter = new Snapshotter({
    filter: () => active.filter,
    store: snapshots,
    redis,
    watermark,
    metrics,
    logger,
    intervalMs: config.snapshotIntervalMs,
    origin: (wm) => snapshotOrigin(products, wm),
  });
  const unconfirmed = new UnconfirmedCacheWrites();
  const batcher = config.lookupPath === 'pool' ? new MicroBatcher((packed) => active.pool.checkPacked(packed)) : undefined;
  const audit = new FalseNegativeAudit({
    sampleEvery: config.auditSampleEvery,
    maxPerSecond: config.auditMaxPerSecond,
    exists: (id) => products.get(id) !== undefined,
    mayContain: (id) => active.filter.has(id),
    repair: (id) => active.add(id),
    logger,
  });
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
  });
  const writer = new ProductWriter({ products, active, cache, redis, watermark, snapshotter, unconfirmed, logger });
  const lookups = metrics.lookups;
  const observedFpr = new ObservedFpr({
    read: () => ({ falsePositives: lookups.dbMiss + lookups.negativeCacheHit, rejections: lookups.bloomRejected }),
  });
  const fprTimer = setInterval(() => observedFpr.sample(), 1000);
  fprTimer.unref();
  const rebuilder = new FilterRebuilder({
    active,
    products,
    threads: config.workers,
    logger,
    metrics,
    onWorkerError,
    afterSwap: async () => {
      observedFpr.resetWindow();
      // The new filter replaces the old snapshot whole (its m may differ after a grow).
      snapshotter.requireFull();
      await snapshotter.save();
    },
  });
  const triggers = new RebuildTriggers({ rebuilder, filter: () => active.filter, fpr: observedFpr, staleRatio: config.rebuildStaleRatio });
  const adminAuth = new AdminAuth(config.adminToken);
  // Admin-only: a u32 from SHA-256 of the seed, to tell instances' seeds apart, never the seed itself.
  const fingerprint = seedFingerprint(layout.seed).toString(16).padStart(8, '0');
  const unsubscribeRedis = redis.onStatusChange((healthy) => {
    logger.info(healthy ? 'redis is back' : 'redis unreachable; serving degraded (filter + database)');
    if (healthy) void writer.retryUnconfirmed();
  });

  let phase: Phase = 'starting';
  let load: LoadReport | undefined;

  metrics.setSources({
    filter: () => {
      const { filter: f } = active;
      const p = f.layout.params;
      return {
        items: f.items,
        capacity: p.capacity,
        bits: p.totalBits,
        fillRatio: f.countSetBits() / p.totalBits,
        estimatedFpr: estimateFpr(p.totalBits, p.hashes, f.items),
        targetFpr: p.targetFpr,
        staleItems: f.stale,
      };
    },
    pool: () => active.pool.stats(),
    redisHealthy: () => redis.healthy,
    dirtyShards: () => active.filter.peekDirtyCount(),
    observedFpr: () => ({ window: observedFpr.window().rate, total: observedFpr.total().rate }),
    rebuild: () => rebuilder.state,
    audit: () => audit,
  });

  const report = new StatusReport({
    config,
    active,
    redis,
    snapshotter,
    rebuilder,
    observedFpr,
    audit,
    seedFingerprint: fingerprint,
    startedAt,
    phase: () => phase,
    load: () => load,
  });

  const http = new HttpServer({
    phase: () => phase,
    guard,
    writer,
    checkIds: (ids) => active.pool.checkPacked(packIds(ids)),
    metrics,
    logger,
    health: () => report.health(),
    bloomStats: () => report.bloomStats(),
    adminAuth,
    startRebuild: () => {
      if (!rebuilder.start('manual', 'POST /admin/rebuild')) throw new RebuildInProgressError();
      return { started: true, rebuild: report.rebuild() };
    },
    adminStatus: () => report.adminStatus(),
    statusPage: STATUS_PAGE_HTML,
  });
  const port = await http.listen(config.host, config.port);
  logger.info('listening', { host: config.host, port, capacity: params.capacity, bits: params.totalBits, hashes: params.hashes, shards: params.shards });

  const ready = (async () => {
    load = await loadFilter({ filter, pool, products, snapshots, redis, productsFile: config.productsFile, metrics, logger });
    watermark.reset(products.maxRowid());
    if (load.source === 'snapshot' && load.checksums !== undefined) {
      snapshotter.adoptRestored(load.checksums, await redis.runId().catch(() => undefined));
      // Rows replayed above the old watermark are in the filter, not in Redis yet.
      if (load.replayed > 0) snapshotter.notifyWrite();
    } else {
      snapshotter.requireFull();
      snapshotter.notifyWrite();
    }
    snapshotter.start();
    audit.start();
    triggers.start();
    phase = 'ready';
    return load;
  })();
  ready.catch((err: unknown) => logger.error('filter load failed', { err }));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await ready.catch(() => undefined);
      phase = 'draining';
      await http.close(config.shutdownTimeoutMs);
      triggers.close();
      audit.close();
      writer.close();
      clearInterval(fprTimer);
      await rebuilder.close();
      await snapshotter.close();
      unsubscribeRedis();
      await active.pool.close();
      await redis.close();
      products.close();
      logger.info('closed');
    })();
    return closing;
  };

  return { port, ready, metrics, close };
}

/** Never log a password from REDIS_URL. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
