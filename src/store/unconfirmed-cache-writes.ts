/**
 * Cache writes that must land for the cache to tell the truth, per id, until
 * Redis confirms them:
 *
 *   - a create replaces the id's negative marker with the product (a lookup
 *     before it could have marked the id absent);
 *   - a delete replaces the cached product with a negative marker.
 *
 * Either write can fail or still be in flight while Redis is slow or away.
 * While one is pending, lookups of that id ignore whatever the cache holds and
 * ask the database (the source of truth): an acknowledged create is never
 * answered "absent", a deleted product never served from a stale entry. The
 * latest write per id wins; failed ones are re-sent when Redis comes back.
 *
 * @example
 *   const write = writes.track(id, { kind: 'product', product });
 *   cache.setProduct(product).then(() => writes.confirm(id, write), () => undefined);
 */
import type { Product } from '../product.js';

export type CacheWrite = { readonly kind: 'product'; readonly product: Product } | { readonly kind: 'absent' };

export class UnconfirmedCacheWrites {
  readonly #pending = new Map<string, CacheWrite>();

  /** Records `write` as the id's pending write (replacing an older one) and returns it for confirm(). */
  track(id: string, write: CacheWrite): CacheWrite {
    this.#pending.set(id, write);
    return write;
  }

  /** Redis applied `write`; forgotten only if no newer write for the id came since. */
  confirm(id: string, write: CacheWrite): void {
    if (this.#pending.get(id) === write) this.#pending.delete(id);
  }

  /** True while the id's cache entry may be stale. */
  has(id: string): boolean {
    return this.#pending.has(id);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** The writes to re-send (Redis came back). */
  entries(): [string, CacheWrite][] {
    return [...this.#pending];
  }
}
