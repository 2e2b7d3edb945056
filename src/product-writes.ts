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
 * replaced by the product in Redis, best effort (see unconfirmed-creates.ts).
 */
import { ConflictError } from './errors.js';
import type { BloomFilter } from './filter/bloom-filter.js';
import { packIds } from './filter/id-batch.js';
import type { FilterPool } from './filter/pool.js';
import type { Logger } from './logger.js';
import type { Snapshotter } from './persistence/snapshotter.js';
import type { Watermark } from './persistence/watermark.js';
import type { ProductCache } from './store/product-cache.js';
import type { Product, ProductStore } from './store/products.js';
import type { RedisConnection } from './store/redis-connection.js';
import type { UnconfirmedCreates } from './unconfirmed-creates.js';

export interface ProductWriterOptions {
  readonly products: ProductStore;
  readonly filter: () => BloomFilter;
  readonly pool: FilterPool;
  readonly cache: ProductCache;
  readonly redis: RedisConnection;
  readonly watermark: Watermark;
  readonly snapshotter: Snapshotter;
  readonly unconfirmed: UnconfirmedCreates;
  readonly logger: Logger;
}

export interface BatchCreateResult {
  readonly created: number;
  readonly conflicts: readonly string[];
}

export class ProductWriter {
  readonly #o: ProductWriterOptions;

  constructor(options: ProductWriterOptions) {
    this.#o = options;
  }

  /** Synchronous up to the acknowledgement: commit, filter add, watermark. Throws ConflictError when the id exists. */
  create(product: Product): Product {
    const { products, watermark, snapshotter } = this.#o;
    const rowid = products.insert(product);
    if (rowid === null) throw new ConflictError(product.id);
    const filter = this.#o.filter();
    filter.add(product.id);
    filter.addItems(1);
    watermark.applied(rowid);
    snapshotter.notifyWrite();
    this.#replaceMarker(product);
    return product;
  }

  /**
   * One transaction for the whole batch (the caller has validated every item),
   * then the filter adds in the worker pool. Resolves after the adds.
   */
  async createBatch(batch: readonly Product[]): Promise<BatchCreateResult> {
    const { products, pool, watermark, snapshotter, logger } = this.#o;
    const { created, conflicts } = products.insertMany(batch);
    if (created.length > 0) {
      const token = watermark.beginPending(created[0]!.rowid, created[created.length - 1]!.rowid);
      const ids = created.map((c) => c.id);
      const filter = this.#o.filter();
      try {
        await pool.addPacked(packIds(ids));
      } catch (err) {
        // Never acknowledge rows the filter lacks: fall back to adding here.
        logger.error('pool add failed; adding the batch on the main thread', { err, ids: ids.length });
        for (const id of ids) filter.add(id);
      }
      filter.addItems(created.length);
      watermark.endPending(token);
      snapshotter.notifyWrite();
      const byId = new Map(batch.map((p) => [p.id, p]));
      for (const id of ids) this.#replaceMarker(byId.get(id)!);
    }
    return { created: created.length, conflicts };
  }

  /** Overwrites any negative marker with the product; until Redis confirms, lookups distrust the marker. */
  #replaceMarker(product: Product): void {
    const { cache, unconfirmed } = this.#o;
    unconfirmed.track(product);
    cache.setProduct(product).then(
      () => unconfirmed.confirm(product.id),
      () => undefined, // kept unconfirmed; retryUnconfirmed() runs when Redis is back
    );
  }

  /** Re-sends the cache writes that failed while Redis was away. */
  async retryUnconfirmed(): Promise<void> {
    const { cache, unconfirmed } = this.#o;
    const pending = [...unconfirmed.pending()];
    await Promise.all(
      pending.map((p) =>
        cache.setProduct(p).then(
          () => unconfirmed.confirm(p.id),
          () => undefined,
        ),
      ),
    );
  }
}
