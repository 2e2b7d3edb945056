/**
 * Creating products, in the order that keeps "no false negatives" true:
 *
 *   1. commit the row(s) in SQLite (the source of truth);
 *   2. add the id(s) to the filter (inline for one, the worker pool for a batch);
 *   3. advance the snapshot watermark and schedule a snapshot;
 *   4. only then acknowledge (201 / batch result).
 *
 * A crash between 1 and 4 leaves a committed row that the next start adds back
 * (replay above the watermark, or a rebuild), so the database and the filter
 * never disagree after a restart. The negative-cache marker an id may have is
 * replaced by the product in Redis, best effort (see store/unconfirmed-cache-writes.ts).
 *
 * During an online rebuild every add goes to both filters (see
 * src/filter/active-filter.ts). The generations are read in the same tick as
 * the commit: a row committed before the rebuild began is read by its scan,
 * and a row committed after is added to the new filter here.
 *
 * Deletes remove the row, then replace any cached entry with a negative
 * marker. The filter keeps the id's bits (a Bloom filter cannot unset them):
 * the id is counted as stale until a rebuild drops it.
 */
import { ConflictError, ProductNotFoundError } from './errors.js';
import type { ActiveFilter, FilterGeneration } from './filter/active-filter.js';
import { packIds } from './filter/id-batch.js';
import { realScheduler, type Cancel, type Scheduler } from './lifecycle/scheduler.js';
import type { Logger } from './logger.js';
import type { Snapshotter } from './persistence/snapshotter.js';
import type { Watermark } from './persistence/watermark.js';
import type { Product } from './product.js';
import type { ProductCache } from './store/product-cache.js';
import type { ProductStore } from './store/products.js';
import type { RedisConnection } from './store/redis-connection.js';
import type { CacheWrite, UnconfirmedCacheWrites } from './store/unconfirmed-cache-writes.js';

export interface ProductWriterOptions {
  readonly products: Pick<ProductStore, 'insert' | 'insertMany' | 'delete'>;
  readonly active: Pick<ActiveFilter, 'add' | 'addStale' | 'filter' | 'current' | 'next'>;
  readonly cache: Pick<ProductCache, 'setProduct' | 'markAbsent'>;
  readonly redis: Pick<RedisConnection, 'healthy'>;
  readonly watermark: Pick<Watermark, 'applied' | 'beginPending' | 'endPending'>;
  readonly snapshotter: Pick<Snapshotter, 'notifyWrite'>;
  readonly unconfirmed: UnconfirmedCacheWrites;
  readonly logger: Logger;
  /** Times the cache-write retry; default realScheduler (close() cancels a pending retry). */
  readonly scheduler?: Scheduler;
}

export interface BatchCreateResult {
  readonly created: number;
  readonly conflicts: readonly string[];
}

/** Delay before re-sending cache writes that failed. */
export const RETRY_MS = 1000;

export class ProductWriter {
  readonly #o: ProductWriterOptions;
  readonly #scheduler: Scheduler;
  /** Cancels the pending retry; undefined when none is scheduled. */
  #cancelRetry: Cancel | undefined;

  constructor(options: ProductWriterOptions) {
    this.#o = options;
    this.#scheduler = options.scheduler ?? realScheduler;
  }

  /** Synchronous up to the acknowledgement: commit, filter add, watermark. Throws ConflictError when the id exists. */
  create(product: Product): Product {
    const { products, watermark, snapshotter } = this.#o;
    const rowid = products.insert(product);
    if (rowid === null) throw new ConflictError(product.id);
    const { active } = this.#o;
    active.add(product.id);
    active.filter.addItems(1);
    watermark.applied(rowid);
    snapshotter.notifyWrite();
    this.#writeCache(product.id, { kind: 'product', product });
    return product;
  }

  /**
   * One transaction for the whole batch (the caller has validated every item),
   * then the filter adds in the worker pool. Resolves after the adds.
   */
  async createBatch(batch: readonly Product[]): Promise<BatchCreateResult> {
    const { products, active, watermark, snapshotter } = this.#o;
    const { created, conflicts } = products.insertMany(batch);
    if (created.length > 0) {
      // Same tick as the commit (see the module comment): the current filter, and the rebuild's if one runs.
      const generations = active.next === undefined ? [active.current] : [active.current, active.next];
      const token = watermark.beginPending(created[0]!.rowid, created[created.length - 1]!.rowid);
      const ids = created.map((c) => c.id);
      const packed = packIds(ids);
      await Promise.all(generations.map((g) => this.#addBatch(g, packed, ids)));
      generations[0]!.filter.addItems(created.length);
      watermark.endPending(token);
      snapshotter.notifyWrite();
      const byId = new Map(batch.map((p) => [p.id, p]));
      for (const id of ids) this.#writeCache(id, { kind: 'product', product: byId.get(id)! });
    }
    return { created: created.length, conflicts };
  }

  async #addBatch(generation: FilterGeneration, packed: Uint8Array, ids: readonly string[]): Promise<void> {
    try {
      await generation.pool.addPacked(packed);
    } catch (err) {
      // Never acknowledge rows the filter lacks: fall back to adding here.
      this.#o.logger.error('pool add failed; adding the batch on the main thread', { err, ids: ids.length });
      for (const id of ids) generation.filter.add(id);
    }
  }

  /**
   * Deletes the row (throws ProductNotFoundError when absent), counts the id as
   * stale in every filter, and replaces its cache entry with a negative marker.
   */
  delete(id: string): void {
    const { products, active } = this.#o;
    if (!products.delete(id)) throw new ProductNotFoundError(id);
    active.addStale(1);
    active.filter.addItems(-1); // items = database rows; the bits stay (stale)
    // Replaces a create's pending write too: it must not bring the product back.
    this.#writeCache(id, { kind: 'absent' });
  }

  /** Sends a cache write that must land; until Redis confirms it, lookups of the id bypass the cache. */
  #writeCache(id: string, write: CacheWrite): void {
    const { unconfirmed } = this.#o;
    unconfirmed.track(id, write);
    this.#send(id, write).then(
      () => unconfirmed.confirm(id, write),
      () => this.#scheduleRetry(), // stays pending (lookups bypass the cache) until a retry lands
    );
  }

  #send(id: string, write: CacheWrite): Promise<void> {
    return write.kind === 'product' ? this.#o.cache.setProduct(write.product) : this.#o.cache.markAbsent(id);
  }

  /**
   * A failed write is re-sent a second later, and again until it lands: a
   * command can time out while Redis stays "healthy", and an id must not
   * bypass the cache forever. (Redis coming back also retries at once.)
   */
  #scheduleRetry(): void {
    if (this.#cancelRetry !== undefined) return;
    this.#cancelRetry = this.#scheduler.after(RETRY_MS, () => {
      this.#cancelRetry = undefined;
      if (this.#o.redis.healthy) void this.retryUnconfirmed();
      else this.#scheduleRetry();
    });
  }

  /** Re-sends the cache writes that have not landed. */
  async retryUnconfirmed(): Promise<void> {
    const { unconfirmed } = this.#o;
    await Promise.all(
      unconfirmed.entries().map(([id, write]) =>
        this.#send(id, write).then(
          () => unconfirmed.confirm(id, write),
          () => this.#scheduleRetry(),
        ),
      ),
    );
  }

  /** Stops retrying (shutdown). */
  close(): void {
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
  }
}
