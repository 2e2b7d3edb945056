/**
 * The stores of the composition root: the product database (the one place
 * that knows which backend runs: SQLite or PostgreSQL, behind ProductStore),
 * and Redis with the cache and the snapshot store on it. Each pushes its close
 * as it opens.
 */
import type { Config } from '../config.js';
import { DatabaseUnavailableError } from '../errors.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import { realScheduler, type Cancel, type Scheduler } from '../lifecycle/scheduler.js';
import type { Logger } from '../logger.js';
import { describeDatabaseUrl } from '../store/database-url.js';
import { PostgresProductStore } from '../store/postgres-product-store.js';
import { ProductCache } from '../store/product-cache.js';
import type { ProductStore } from '../store/product-store.js';
import { RedisConnection } from '../store/redis-connection.js';
import { redactUrl } from '../store/redis-url.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { SqliteProductStore } from '../store/sqlite-product-store.js';
import { DatabaseHealth } from './database-health.js';
import { trackHealth } from './health-tracked-store.js';

/** How long start-up waits for Redis before going on degraded (it keeps reconnecting). */
const REDIS_START_WAIT_MS = 2_000;
/** Retries of an unreachable database at start: 250 ms doubling to this. */
const OPEN_RETRY_MAX_MS = 5_000;
const OPEN_RETRY_FIRST_MS = 250;

/** What logs may say about the database: never a password. */
export function describeDatabase(config: Pick<Config, 'database'>): string {
  const db = config.database;
  return db.kind === 'sqlite' ? `sqlite:${db.path}` : describeDatabaseUrl(db.url);
}

export interface OpenedProducts {
  /** The store, reporting every call's outcome to `health`. */
  readonly products: ProductStore;
  readonly health: DatabaseHealth;
}

export interface OpenProductsOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly closers: CloserStack;
  /** The instance lock was lost (PostgreSQL: its connection died): this process must stop serving. */
  readonly onLockLost: (err: Error) => void;
  readonly scheduler?: Scheduler;
}

/**
 * Opens the configured backend and (not in cluster mode) claims the instance lock for
 * config.namespace right after (InstanceLockedError: another process serves
 * this database; the caller exits). Rejects with DatabaseUnavailableError when
 * the database does not answer; see openProductsWithRetry.
 */
export async function openProducts(o: OpenProductsOptions): Promise<OpenedProducts> {
  const { config } = o;
  const db = config.database;
  const store: ProductStore =
    db.kind === 'postgres'
      ? await PostgresProductStore.open({
          url: db.url,
          poolSize: config.databasePoolSize,
          timeoutMs: config.databaseTimeoutMs,
          onInstanceLockLost: o.onLockLost,
        })
      : await SqliteProductStore.open({
          path: db.path,
          synchronous: config.sqliteSynchronous,
          cacheSizeKiB: config.sqliteCacheMb * 1024,
          writerNice: config.sqliteWriterNice,
          writeTimeoutMs: config.databaseTimeoutMs,
        });
  // Cluster mode (PostgreSQL + a real Redis): several processes serve this
  // database and namespace on purpose, kept consistent by the lease, the change
  // feed and the ack barrier (src/service/cluster.ts); no instance lock, so
  // nothing is lost with its connection and a database outage is recovered
  // without a restart. Otherwise one process only: the lock refuses a second.
  if (!config.cluster) {
    try {
      await store.lockInstance(config.namespace);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  o.closers.push('product database', () => store.close());
  const health = new DatabaseHealth({ check: () => store.horizon(), logger: o.logger, ...(o.scheduler === undefined ? {} : { scheduler: o.scheduler }) });
  o.closers.push('database health checks', () => health.close());
  o.logger.info('product database open', { backend: store.backend, database: describeDatabase(config) });
  return { products: trackHealth(store, health), health };
}

export interface OpenRetry {
  /** Resolves with the store once open; rejects on anything but DatabaseUnavailableError, or when cancelled. */
  readonly opened: Promise<OpenedProducts>;
  /** The last failure while still retrying, else null. */
  readonly waitingFor: () => string | null;
  /** Stops retrying (shutdown during start): `opened` rejects. */
  readonly cancel: () => void;
}

/**
 * openProducts, retried while the database is unavailable (250 ms doubling to
 * 5 s, on the Scheduler) instead of a crash loop; the HTTP listener meanwhile
 * answers /health 503 database_unavailable.
 */
export function openProductsWithRetry(o: OpenProductsOptions, firstError: DatabaseUnavailableError): OpenRetry {
  const scheduler = o.scheduler ?? realScheduler;
  let waiting: string | null = firstError.message;
  let cancelled = false;
  let cancelTimer: Cancel | undefined;
  let wake: (() => void) | undefined;
  const opened = (async () => {
    let delay = OPEN_RETRY_FIRST_MS;
    const closedError = (): Error => new Error('closed before the product database answered');
    for (;;) {
      if (cancelled) throw closedError();
      o.logger.warn('product database unavailable at start; retrying', { retryInMs: delay, database: describeDatabase(o.config), err: waiting });
      await new Promise<void>((resolve) => {
        wake = resolve;
        cancelTimer = scheduler.after(delay, resolve);
      });
      if (cancelled) throw closedError();
      try {
        const result = await openProducts(o);
        if (cancelled) {
          await result.products.close();
          throw closedError();
        }
        waiting = null;
        return result;
      } catch (err) {
        if (!(err instanceof DatabaseUnavailableError)) throw err;
        waiting = err.message;
      }
      delay = Math.min(OPEN_RETRY_MAX_MS, delay * 2);
    }
  })();
  return {
    opened,
    waitingFor: () => waiting,
    cancel: () => {
      cancelled = true;
      cancelTimer?.();
      wake?.();
    },
  };
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
