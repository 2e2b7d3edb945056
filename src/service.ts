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
import type { FilterGeneration } from './filter/active-filter.js';
import { CloserStack } from './lifecycle/closer-stack.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/registry.js';
import { loadFilter, type LoadReport } from './persistence/filter-loader.js';
import type { ProductStore } from './store/products.js';
import { openHttp, type ServiceState } from './service/http-adapter.js';
import { metricSources } from './service/metric-sources.js';
import { openFilter } from './service/open-filter.js';
import { openProducts, openRedisStores, type RedisStores } from './service/open-stores.js';
import { wireUpkeep, type Upkeep } from './service/upkeep.js';
import { wireUseCases, type UseCases } from './service/use-cases.js';

export interface Service {
  readonly port: number;
  /** Resolves when the filter is loaded and product routes answer; rejects if loading failed. */
  readonly ready: Promise<LoadReport>;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export async function startService(config: Config, logger: Logger): Promise<Service> {
  const metrics = new Metrics();
  const state: ServiceState = { startedAt: Date.now(), phase: 'starting', load: undefined };
  const closers = new CloserStack(logger);
  let port: number;
  let ready: Promise<LoadReport>;
  try {
    const products = openProducts(config, closers);
    const { active, initial, onWorkerError } = openFilter(config, products, logger, closers);
    const stores = await openRedisStores(config, logger, closers);
    const useCases = wireUseCases({ config, logger, metrics, products, stores, active, closers });
    const upkeep = wireUpkeep({ config, logger, metrics, products, active, snapshotter: useCases.snapshotter, onWorkerError, closers });
    metrics.setSources(metricSources(active, stores.redis, useCases.audit, upkeep));
    port = await openHttp({ config, logger, metrics, state, active, redis: stores.redis, useCases, upkeep, closers });
    const p = active.filter.layout.params;
    logger.info('listening', { host: config.host, port, capacity: p.capacity, bits: p.totalBits, hashes: p.hashes, shards: p.shards });

    ready = becomeReady({ config, logger, metrics, state, initial, products, stores, useCases, upkeep });
    ready.catch((err: unknown) => logger.error('filter load failed', { err }));
    // On top of the stack, so the first thing close() does: let the load finish, then refuse new work.
    closers.push('start-up load', async () => {
      await ready.catch(() => undefined);
      state.phase = 'draining';
    });
  } catch (err) {
    // A failed start releases what it opened (a bound port, workers, sockets) before it rejects.
    await closers.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closers.close().then(() => logger.info('closed'));
    return closing;
  };
  return { port, ready, metrics, close };
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
}

/** Loads the filter (import, snapshot or rebuild), sets the watermark, starts the timers, and opens the product routes. */
async function becomeReady(d: ReadyDeps): Promise<LoadReport> {
  const { products, state } = d;
  const { redis, snapshots } = d.stores;
  const { watermark, snapshotter, audit } = d.useCases;
  const { filter, pool } = d.initial;
  const load = await loadFilter({ filter, pool, products, snapshots, redis, productsFile: d.config.productsFile, metrics: d.metrics, logger: d.logger });
  state.load = load;
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
  d.upkeep.triggers.start();
  state.phase = 'ready';
  return load;
}
