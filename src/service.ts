/**
 * The composition root: config -> stores -> filter + pool -> HTTP, then the
 * filter load, then ready. `close()` shuts down in reverse order of opening.
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
import { BloomFilter } from './filter/bloom-filter.js';
import { HASH_ID } from './filter/hash.js';
import { packIds } from './filter/id-batch.js';
import { allocateFilterBuffer, createLayout } from './filter/layout.js';
import { MicroBatcher } from './filter/micro-batcher.js';
import { FilterPool } from './filter/pool.js';
import { computeFilterParams, estimateFpr } from './filter/sizing.js';
import { LookupGuard } from './guard.js';
import { HttpServer, type Phase } from './http/server.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/registry.js';
import { loadFilter, type LoadReport } from './persistence/filter-loader.js';
import { Snapshotter } from './persistence/snapshotter.js';
import { Watermark } from './persistence/watermark.js';
import { ProductWriter } from './product-writes.js';
import { ProductCache } from './store/product-cache.js';
import { ProductStore } from './store/products.js';
import { RedisConnection } from './store/redis-connection.js';
import { SnapshotStore } from './store/snapshot-store.js';
import { UnconfirmedCreates } from './unconfirmed-creates.js';

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

export async function startService(config: Config, logger: Logger): Promise<Service> {
  const metrics = new Metrics();
  const startedAt = Date.now();

  const products = ProductStore.open({ path: config.dbPath, synchronous: config.sqliteSynchronous });
  const params = computeFilterParams(config.capacity, config.targetFpr, config.shards);
  const layout = createLayout(params, resolveSeed(config, products));
  const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
  const pool = new FilterPool({
    filter,
    threads: config.workers,
    onWorkerError: (err) => logger.error('filter worker died; piscina replaces it', { err }),
  });

  const redis = RedisConnection.open({ url: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs, name: 'bloomgate' });
  await redis.waitReady(REDIS_START_WAIT_MS).catch((err: unknown) => logger.warn('redis not reachable; starting degraded', { err, url: redactUrl(config.redisUrl) }));

  const cache = new ProductCache({ redis, namespace: config.namespace, ttlS: config.cacheTtlS, negativeTtlS: config.negativeTtlS });
  const snapshots = new SnapshotStore({ redis, namespace: config.namespace });
  const watermark = new Watermark(0);
  const snapshotter = new Snapshotter({ filter, store: snapshots, redis, watermark, metrics, logger, intervalMs: config.snapshotIntervalMs });
  const unconfirmed = new UnconfirmedCreates();
  const batcher = config.lookupPath === 'pool' ? new MicroBatcher((packed) => pool.checkPacked(packed)) : undefined;
  const guard = new LookupGuard({
    filter: () => filter,
    cache,
    redis,
    products,
    counters: metrics.lookups,
    unconfirmed,
    logger,
    ...(batcher === undefined ? {} : { poolCheck: (id: string) => batcher.check(id) }),
  });
  const writer = new ProductWriter({ products, filter: () => filter, pool, cache, redis, watermark, snapshotter, unconfirmed, logger });
  const unsubscribeRedis = redis.onStatusChange((healthy) => {
    logger.info(healthy ? 'redis is back' : 'redis unreachable; serving degraded (filter + database)');
    if (healthy) void writer.retryUnconfirmed();
  });

  let phase: Phase = 'starting';
  let load: LoadReport | undefined;

  metrics.setSources({
    filter: () => ({
      items: filter.items,
      capacity: params.capacity,
      bits: params.totalBits,
      fillRatio: filter.countSetBits() / params.totalBits,
      estimatedFpr: estimateFpr(params.totalBits, params.hashes, filter.items),
      targetFpr: params.targetFpr,
      staleItems: filter.stale,
    }),
    pool: () => pool.stats(),
    redisHealthy: () => redis.healthy,
    dirtyShards: () => filter.peekDirtyCount(),
  });

  const http = new HttpServer({
    phase: () => phase,
    guard,
    writer,
    checkIds: (ids) => pool.checkPacked(packIds(ids)),
    metrics,
    logger,
    health: () => {
      if (phase === 'starting') return { status: 503, body: { status: 'starting' } };
      if (phase === 'draining') return { status: 503, body: { status: 'draining' } };
      return {
        status: 200,
        body: {
          status: redis.healthy ? 'ok' : 'degraded',
          redis: redis.healthy ? 'up' : 'down',
          filter: 'loaded',
          items: filter.items,
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
        },
      };
    },
    bloomStats: () => {
      const items = filter.items;
      const snapshot = snapshotter.state;
      return {
        capacity: params.capacity,
        target_fpr: params.targetFpr,
        bits: params.totalBits,
        nominal_bits: params.nominalBits,
        hashes: params.hashes,
        shards: params.shards,
        shard_bits: params.shardBits,
        hash_id: HASH_ID,
        items,
        fill_ratio: filter.countSetBits() / params.totalBits,
        estimated_fpr: estimateFpr(params.totalBits, params.hashes, items),
        memory_bytes: filter.buffer.byteLength,
        namespace: config.namespace,
        lookup_path: config.lookupPath,
        workers: config.workers,
        snapshot: {
          last_saved_at: snapshot.lastSavedAt === null ? null : new Date(snapshot.lastSavedAt).toISOString(),
          watermark: snapshot.lastWatermark,
          dirty_shards: snapshot.dirtyShards,
          last_bytes: snapshot.lastBytes,
          last_duration_ms: snapshot.lastDurationMs,
          saves: snapshot.saves,
          failures: snapshot.failures,
          last_error: snapshot.lastError,
        },
        load: load === undefined ? null : { source: load.source, ms: load.ms, replayed: load.replayed, refused: load.refused ?? null },
      };
    },
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
      await snapshotter.close();
      unsubscribeRedis();
      await pool.close();
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
