/**
 * The composition root: stores -> filter + pool -> use cases -> upkeep -> HTTP,
 * then the filter load, then ready (snapshots, audit, rebuild triggers). Each
 * part lives in src/service/ and pushes its close on one CloserStack as it
 * opens, so `close()` shuts down in reverse order of opening by construction.
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
 *   await service.close(); // drain, final snapshot, close pool, Redis, database
 */
import type { Config } from './config.js';
import { DatabaseUnavailableError } from './errors.js';
import type { FilterGeneration } from './filter/active-filter.js';
import { CloserStack } from './lifecycle/closer-stack.js';
import type { Scheduler } from './lifecycle/scheduler.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/registry.js';
import { loadFilter, type LoadReport } from './persistence/filter-loader.js';
import type { ProductStore } from './store/product-store.js';
import { createStatusReport, openHttp, type ServedParts, type ServiceState } from './service/http-adapter.js';
import { metricSources } from './service/metric-sources.js';
import { openFilter } from './service/open-filter.js';
import { openProducts, openProductsWithRetry, openRedisStores, type OpenedProducts, type OpenProductsOptions, type RedisStores } from './service/open-stores.js';
import { wireUpkeep, type Upkeep } from './service/upkeep.js';
import { RebuildLock } from './cluster/rebuild-lock.js';
import { ClusterMember } from './service/cluster.js';
import { wireUseCases, type UseCases } from './service/use-cases.js';

export interface Service {
  readonly port: number;
  /** Resolves when the filter is loaded and product routes answer; rejects if loading failed. */
  readonly ready: Promise<LoadReport>;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * The service can no longer serve correctly (the instance lock was lost: a
   * second process may now serve the same database). Default: log and close.
   * src/index.ts exits non-zero.
   */
  readonly onFatal?: (err: Error) => void;
  /** Drives the database open retries and health checks; tests pass a manual one. */
  readonly scheduler?: Scheduler;
}

/**
 * Start-up: the product database first (the filter is sized and seeded from
 * it; the instance lock is taken right after it opens), then the filter,
 * Redis, the use cases, the HTTP listener, then the load. When the database
 * does not answer at start, the listener opens anyway (/health: 503
 * database_unavailable) and the database is retried with backoff; the rest
 * follows once it answers. Any other failure to open (another process holds
 * the instance lock) rejects before anything listens.
 */
export async function startService(config: Config, logger: Logger, options: StartOptions = {}): Promise<Service> {
  const metrics = new Metrics();
  const state: ServiceState = { startedAt: Date.now(), phase: 'starting', load: undefined, waitingForDatabase: false };
  const closers = new CloserStack(logger);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closers.close().then(() => logger.info('closed'));
    return closing;
  };
  const onLockLost = (err: Error): void => {
    const fatal = new Error(`the instance lock on the product database was lost (${err.message}); another process may serve it now, so this one stops`);
    logger.error('instance lock lost; stopping', { err });
    if (options.onFatal !== undefined) options.onFatal(fatal);
    else void close();
  };
  const openOptions: OpenProductsOptions = { config, logger, closers, onLockLost, ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }) };
  let port: number;
  let ready: Promise<LoadReport>;
  let cancelRetry: (() => void) | undefined;
  /** Cluster mode: set once wired; closing stops a join that waits for Redis. */
  let cluster: ClusterMember | undefined;
  try {
    const opened = await openProducts(openOptions).catch((err: unknown) => {
      if (err instanceof DatabaseUnavailableError) return err;
      throw err;
    });
    const stores = await openRedisStores(config, logger, closers);
    let parts: ServedParts | undefined;
    if (opened instanceof DatabaseUnavailableError) {
      // Serve /health (503 database_unavailable) while the database is retried.
      state.waitingForDatabase = true;
      const http = await openHttp({ config, logger, metrics, state, parts: () => parts, closers });
      port = http.port;
      logger.info('listening; waiting for the product database', { host: config.host, port });
      const retry = openProductsWithRetry(openOptions, opened);
      cancelRetry = retry.cancel;
      ready = retry.opened.then(async (products) => {
        state.waitingForDatabase = false;
        const wired = await wire({ config, logger, metrics, state, closers, stores, opened: products });
        cluster = wired.ready.cluster;
        parts = wired.parts;
        // Pushed again on top: in-flight requests drain before the parts opened since close.
        closers.push('http listener (drain)', http.close);
        return becomeReady(wired.ready);
      });
    } else {
      const wired = await wire({ config, logger, metrics, state, closers, stores, opened });
      cluster = wired.ready.cluster;
      const http = await openHttp({ config, logger, metrics, state, parts: () => parts, closers });
      parts = wired.parts;
      port = http.port;
      const p = wired.parts.active.filter.layout.params;
      logger.info('listening', { host: config.host, port, capacity: p.capacity, bits: p.totalBits, hashes: p.hashes, shards: p.shards });
      ready = becomeReady(wired.ready);
    }
    ready.catch((err: unknown) => logger.error('filter load failed', { err }));
    // On top of the stack, so the first thing close() does: stop a start-up retry, let the load finish, then refuse new work.
    closers.push('start-up load', async () => {
      cancelRetry?.();
      cluster?.close();
      await ready.catch(() => undefined);
      state.phase = 'draining';
    });
  } catch (err) {
    // A failed start releases what it opened (a bound port, workers, sockets) before it rejects.
    await closers.close();
    throw err;
  }
  return { port, ready, metrics, close };
}

interface WireDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServiceState;
  readonly closers: CloserStack;
  readonly stores: RedisStores;
  readonly opened: OpenedProducts;
}

/** The filter, use cases and upkeep on an open database; what the routes serve and what the load needs. */
async function wire(d: WireDeps): Promise<{ parts: ServedParts; ready: ReadyDeps }> {
  const { config, logger, metrics, closers, stores } = d;
  const { products, health } = d.opened;
  const { active, initial, onWorkerError } = await openFilter(config, products, logger, closers);
  const cluster = config.cluster ? new ClusterMember({ config, logger, products, active, redis: stores.redis, closers }) : undefined;
  const useCases = wireUseCases({ config, logger, metrics, products, stores, active, closers, ...(cluster === undefined ? {} : { cluster }) });
  const rebuildLock = cluster === undefined ? undefined : new RebuildLock({ client: stores.redis.client, namespace: config.namespace });
  const upkeep = wireUpkeep({ config, logger, metrics, products, active, snapshotter: useCases.snapshotter, onWorkerError, closers, ...(rebuildLock === undefined ? {} : { rebuildLock }) });
  metrics.setSources(metricSources(active, stores.redis, useCases.audit, upkeep));
  const report = createStatusReport({ config, state: d.state, active, redis: stores.redis, database: health, useCases, upkeep });
  return {
    parts: { active, useCases, upkeep, report },
    ready: { config, logger, metrics, state: d.state, initial, products, stores, useCases, upkeep, cluster },
  };
}

interface ReadyDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServiceState;
  readonly initial: FilterGeneration;
  readonly products: ProductStore;
  readonly stores: RedisStores;
  readonly useCases: UseCases;
  readonly upkeep: Upkeep;
  readonly cluster: ClusterMember | undefined;
}

/** Loads the filter (import, snapshot or rebuild), sets the watermark, starts the timers, and opens the product routes. */
async function becomeReady(d: ReadyDeps): Promise<LoadReport> {
  const { products, state } = d;
  const { redis, snapshots } = d.stores;
  const { watermark, snapshotter, audit } = d.useCases;
  const { filter, pool } = d.initial;
  const load = await loadFilter({ filter, pool, products, snapshots, redis, productsFile: d.config.productsFile, metrics: d.metrics, logger: d.logger });
  state.load = load;
  // The horizon read before the load began (no own writes run before ready): every row below it is in the filter.
  watermark.reset(load.horizon);
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
  d.upkeep.triggers.start();
  // Cluster mode: ready (product routes, /health 200) only once the filter may reject alone (service/cluster.ts).
  if (d.cluster !== undefined) {
    await d.cluster.join(load.horizon);
    snapshotter.notifyWrite(); // the saves before the join were skipped (no catch-up watermark yet)
  }
  state.phase = 'ready';
  return load;
}
