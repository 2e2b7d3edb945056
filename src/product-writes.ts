/**
 * Creating products, in the order that keeps "no false negatives" true:
 *
 *   0. begin a watermark token (before the write is sent: see src/persistence/watermark.ts);
 *   1. commit the row(s) in the store (the source of truth), awaited;
 *   2. add the id(s) to the filter (inline for one, the worker pool for a batch);
 *   3. cluster mode only: publish one change-feed entry and wait until every
 *      instance holding a lease applied it (src/service/cluster.ts; a failure
 *      is 503 cluster_unavailable: committed, acknowledged to nobody);
 *   4. end the watermark token and schedule a snapshot;
 *   5. only then acknowledge (201 / batch result).
 *
 * A crash between 1 and 4 leaves a committed row that the next start adds back
 * (replay from the watermark, or a rebuild), so the database and the filter
 * never disagree after a restart. A write that fails with the database
 * unavailable may still commit (a timeout does not cancel it), so its ids go
 * into the filter anyway before the token ends: at worst a false positive,
 * never a committed row the watermark passed without it. The negative-cache
 * marker an id may have is replaced by the product in Redis, best effort (see
 * store/unconfirmed-cache-writes.ts).
 *
 * During an online rebuild every add goes to both filters (see
 * src/filter/active-filter.ts). The generations are read AFTER the commit
 * resolved, in the same continuation as the filter add: a row committed before
 * the rebuild began is read by its scan, and a row committed after it is added
 * to the new filter here.
 *
 * Deletes remove the row, then replace any cached entry with a negative
 * marker. The filter keeps the id's bits (a Bloom filter cannot unset them):
 * the id is counted as stale until a rebuild drops it.
 *
 * Updates commit the new name and price, then replace the cached product
 * (awaited: a SET under the tracked prefix, so Redis tells every instance's
 * local cache to drop the old body), then resolve. The filter is untouched
 * (the id exists either way).
 *
 * The local cache (src/cache/local-product-cache.ts): every write drops the
 * id's local entry when its cache write is sent AND again when it settles.
 * The first refuses any fill whose Redis GET was sent before (its ticket is
 * older); the second drops a value a GET read before the SET landed. Between
 * the two the id is unconfirmed, so lookups skip both caches and read the
 * database: read-your-writes on this instance.
 */
import type { LocalProductCache } from './cache/local-product-cache.js';
import { ConflictError, DatabaseUnavailableError, ProductNotFoundError } from './errors.js';
import type { ActiveFilter, FilterGeneration } from './filter/active-filter.js';
import { packIds } from './filter/id-batch.js';
import { realScheduler, type Cancel, type Scheduler } from './lifecycle/scheduler.js';
import type { LookupGuard } from './guard.js';
import type { Logger } from './logger.js';
import type { Snapshotter } from './persistence/snapshotter.js';
import type { Watermark } from './persistence/watermark.js';
import type { Product } from './product.js';
import type { ProductCache } from './store/product-cache.js';
import type { ProductStore } from './store/product-store.js';
import type { RedisConnection } from './store/redis-connection.js';
import type { CacheWrite, UnconfirmedCacheWrites } from './store/unconfirmed-cache-writes.js';

export interface ProductWriterOptions {
  readonly products: Pick<ProductStore, 'insert' | 'insertMany' | 'delete' | 'update'>;
  readonly active: Pick<ActiveFilter, 'add' | 'addStale' | 'filter' | 'current' | 'next'>;
  readonly cache: Pick<ProductCache, 'setProduct' | 'markAbsent' | 'sendQueued'>;
  readonly redis: Pick<RedisConnection, 'healthy'>;
  readonly watermark: Pick<Watermark, 'begin' | 'end'>;
  readonly snapshotter: Pick<Snapshotter, 'notifyWrite'>;
  readonly unconfirmed: UnconfirmedCacheWrites;
  readonly logger: Logger;
  /** The in-process cache of hot products, when on: every write drops the id's entry. */
  readonly local?: Pick<LocalProductCache, 'invalidate'>;
  /**
   * The lookup guard's single flight: after the filter add and before the
   * acknowledgement, lookups of the created ids stop joining flights that may
   * have read the database before the commit (LookupGuard.forgetFlights).
   */
  readonly flights?: Pick<LookupGuard, 'forgetFlights'>;
  /** Times the cache-write retry; default realScheduler (close() cancels a pending retry). */
  readonly scheduler?: Scheduler;
  /**
   * Cluster mode (src/service/cluster.ts): publishes a committed change to the
   * change feed and resolves once every instance holding a lease applied it
   * (or its lease expired); rejects with ClusterUnavailableError otherwise.
   * Called after this instance's own filter holds the ids, before the
   * acknowledgement. Absent: one instance, nothing to wait for.
   */
  readonly cluster?: ClusterConfirm;
}

/** What the writer asks of the cluster (src/service/cluster.ts). */
/** One committed change as the writer hands it to the cluster: a create (one id, or a batch) or a delete. */
export interface ClusterChange {
  readonly op: 'create' | 'delete';
  readonly ids: readonly string[];
  readonly position: number;
}

export interface ClusterConfirm {
  confirm(change: ClusterChange): Promise<void>;
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

  /** Commit, filter add, watermark, then resolves. Rejects with ConflictError when the id exists. */
  async create(product: Product): Promise<Product> {
    const { products, watermark, snapshotter } = this.#o;
    const token = watermark.begin();
    let row;
    try {
      row = await products.insert(product);
    } catch (err) {
      this.#addUncertain([product.id], err);
      watermark.end(token);
      throw err;
    }
    if (row === null) {
      watermark.end(token);
      throw new ConflictError(product.id);
    }
    // Same continuation as the commit's resolution (see the module comment): both generations if a rebuild runs.
    const { active } = this.#o;
    active.add(product.id);
    active.filter.addItems(1);
    this.#o.flights?.forgetFlights([product.id]);
    void this.#writeCache(product.id, { kind: 'product', product });
    try {
      // Cluster: no 201 before every live instance's filter holds the id
      // (issue 11's promise); a failure answers 503 and promises nothing.
      await this.#publish({ op: 'create', ids: [product.id], position: row.position });
    } finally {
      watermark.end(token);
      snapshotter.notifyWrite();
    }
    return product;
  }

  /**
   * One transaction for the whole batch (the caller has validated every item),
   * then the filter adds in the worker pool. Resolves after the adds.
   */
  async createBatch(batch: readonly Product[]): Promise<BatchCreateResult> {
    const { products, active, watermark, snapshotter } = this.#o;
    const token = watermark.begin();
    try {
      let result;
      try {
        result = await products.insertMany(batch);
      } catch (err) {
        this.#addUncertain(
          batch.map((p) => p.id),
          err,
        );
        throw err;
      }
      const { created, conflicts } = result;
      if (created.length > 0) {
        // Read after the commit resolved (see the module comment): the current filter, and the rebuild's if one runs.
        const generations = active.next === undefined ? [active.current] : [active.current, active.next];
        const ids = created.map((c) => c.id);
        const packed = packIds(ids);
        await Promise.all(generations.map((g) => this.#addBatch(g, packed, ids)));
        // Counted on the filter in service NOW, not generations[0]: a rebuild may
        // have swapped while the pool added, copying the old counter before this
        // batch counted, and items would stay one batch short for good.
        active.filter.addItems(created.length);
        this.#o.flights?.forgetFlights(ids);
        snapshotter.notifyWrite();
        const byId = new Map(batch.map((p) => [p.id, p]));
        for (const id of ids) void this.#writeCache(id, { kind: 'product', product: byId.get(id)! });
        // One feed entry for the whole batch, acknowledged as a whole.
        await this.#publish({ op: 'create', ids, position: created.reduce((max, c) => Math.max(max, c.position), 0) });
      }
      return { created: created.length, conflicts };
    } finally {
      // After the adds (or the failure), before the caller acknowledges.
      watermark.end(token);
    }
  }

  /**
   * The database did not answer: the write may still commit. Its ids go into
   * the filter(s) now, so the watermark may pass it (a false positive at worst).
   * Any other error is a refusal (nothing committed).
   */
  #addUncertain(ids: readonly string[], err: unknown): void {
    if (!(err instanceof DatabaseUnavailableError)) return;
    for (const id of ids) this.#o.active.add(id);
    this.#o.logger.warn('write outcome unknown (database unavailable); its ids are in the filter in case it committed', { ids: ids.length });
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
  async delete(id: string): Promise<void> {
    const { products, active } = this.#o;
    if (!(await products.delete(id))) throw new ProductNotFoundError(id);
    active.addStale(1);
    active.filter.addItems(-1); // items = database rows; the bits stay (stale)
    this.#o.flights?.forgetFlights([id]); // a flight under way may have read the row before the delete
    // Replaces a create's pending write too: it must not bring the product back.
    void this.#writeCache(id, { kind: 'absent' });
    // Cluster: other instances drop local copies and count the id stale when they apply it; 204 once all did.
    await this.#publish({ op: 'delete', ids: [id], position: 0 });
  }

  /**
   * Cluster mode: publishes the change and waits for every lease holder. The
   * cache writes queued for this tick go on the connection first: an instance
   * that applies the entry must find them ahead of it in Redis (a create ends
   * that instance's distrust of cached products, see src/cluster/recent-deletes.ts),
   * and the feed's XADD shares the connection. (One instance: nothing to publish,
   * so the writes stay grouped for the end of the tick.)
   */
  async #publish(change: ClusterChange): Promise<void> {
    const { cluster } = this.#o;
    if (cluster === undefined) return;
    this.#o.cache.sendQueued();
    await cluster.confirm(change);
  }

  /**
   * Replaces name and price (the id must exist: ProductNotFoundError else),
   * then the cached product; resolves once Redis answered the SET (or failed:
   * the write then stays unconfirmed and is retried, and lookups of the id
   * bypass the cache meanwhile). The filter and the watermark need nothing.
   */
  async update(product: Product): Promise<Product> {
    if (!(await this.#o.products.update(product))) throw new ProductNotFoundError(product.id);
    this.#o.flights?.forgetFlights([product.id]); // a flight under way may have read the old row
    await this.#writeCache(product.id, { kind: 'product', product });
    return product;
  }

  /**
   * Sends a cache write that must land; until Redis confirms it, lookups of the
   * id bypass the cache. Resolves when the first attempt settled (never rejects).
   */
  #writeCache(id: string, write: CacheWrite): Promise<void> {
    const { unconfirmed, local } = this.#o;
    unconfirmed.track(id, write);
    local?.invalidate(id);
    return this.#send(id, write).then(
      () => this.#landed(id, write),
      () => {
        local?.invalidate(id);
        this.#scheduleRetry(); // stays pending (lookups bypass the cache) until a retry lands
      },
    );
  }

  /** Redis has the write: lookups use the cache again, and the local entry a GET read before the SET landed is dropped. */
  #landed(id: string, write: CacheWrite): void {
    this.#o.unconfirmed.confirm(id, write);
    this.#o.local?.invalidate(id);
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
          () => this.#landed(id, write),
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
