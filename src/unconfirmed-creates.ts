/**
 * Ids created by this process whose negative-cache marker may still be in
 * Redis. A create overwrites the marker with the product (and negative fills
 * use SET NX, so they never overwrite a product), but that write can fail or
 * still be in flight when Redis is slow or away. Until it succeeds, a lookup
 * that meets an "absent" marker for one of these ids ignores the marker and asks
 * the database: an acknowledged id is never rejected.
 *
 * @example
 *   creates.track(id);                         // before issuing the cache write
 *   cache.setProduct(p).then(() => creates.confirm(id), () => creates.retryLater(id, p));
 */
import type { Product } from './store/products.js';

export class UnconfirmedCreates {
  readonly #pending = new Map<string, Product>();

  track(product: Product): void {
    this.#pending.set(product.id, product);
  }

  confirm(id: string): void {
    this.#pending.delete(id);
  }

  has(id: string): boolean {
    return this.#pending.has(id);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Products whose cache write must be retried (Redis came back). */
  pending(): IterableIterator<Product> {
    return this.#pending.values();
  }
}
