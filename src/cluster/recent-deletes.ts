/**
 * Cluster mode: ids another instance deleted recently, whose cached PRODUCT in
 * Redis this instance must not serve for a while.
 *
 * The deleter replaces the cached product with a negative marker before it
 * publishes the delete (one SET on the connection that then sends the XADD).
 * If that SET fails (a timeout) while the XADD lands, the product stays cached:
 * the deleter bypasses the cache for the id until its retry lands (it tracks
 * the write as unconfirmed), but no other instance knows. So every instance
 * that applies a delete entry distrusts a cached product of those ids for
 * `holdMs`: the old entry's TTL (CACHE_TTL_S + 10% jitter), plus a lookup's fill
 * whose database read began before the delete (DATABASE_TIMEOUT_MS, then a SET
 * within REDIS_COMMAND_TIMEOUT_MS), plus slack. Markers stay trusted (they
 * answer 404, which is right after a delete). A create of the id applied later
 * ends the distrust: its product SET came after the delete's, and a product
 * cached from then on is the new row.
 *
 * @example
 *   const deletes = new RecentDeletes({ holdMs: 331_000 });
 *   deletes.noteDeleted(entry.ids);                 // a delete entry applied
 *   if (cached.kind === 'product' && !deletes.trustsProduct(id)) readTheDatabase();
 */
import { RecentIds } from './recent-ids.js';

export interface RecentDeletesOptions {
  readonly holdMs: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly clock?: () => number;
  /** More ids than this: forget them and trust no cached product for holdMs. */
  readonly maxIds?: number;
}

export class RecentDeletes {
  readonly #clock: () => number;
  readonly #ids: RecentIds;

  constructor(options: RecentDeletesOptions) {
    this.#ids = new RecentIds(options.holdMs, options.maxIds ?? 1_000_000);
    this.#clock = options.clock ?? (() => performance.now());
  }

  get size(): number {
    return this.#ids.size;
  }

  /** A delete of `ids` was applied here. */
  noteDeleted(ids: readonly string[]): void {
    this.#ids.note(ids, this.#clock());
  }

  /** A create of `ids` was applied here: a product cached for them now is the new row. */
  noteCreated(ids: readonly string[]): void {
    this.#ids.forget(ids);
  }

  /** May a product cached in Redis for `id` be served? */
  trustsProduct(id: string): boolean {
    return !this.#ids.has(id, this.#clock());
  }
}
