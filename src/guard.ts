/**
 * The lookup use case, in the order a request meets it:
 *
 *   filter -> (absent: 404, nothing else touched)
 *          -> cache -> (product: 200 | negative marker: 404)
 *          -> database -> (row: 200 + cache fill | none: 404 + negative marker)
 *
 * The filter check is synchronous and allocation-free so that the rejection
 * path stays at the speed of the HTTP server. Everything after it is shared per
 * id while in flight (single flight): a thousand concurrent lookups of one
 * uncached id make one cache read and one database query.
 *
 * Redis is optional: when it is down or a command fails, the lookup goes on to
 * the database. The database is the source of truth: when it does not answer
 * (DatabaseUnavailableError, within DATABASE_TIMEOUT_MS) the lookup rejects with
 * it (HTTP 503 database_unavailable), never a 404, and every lookup sharing the
 * flight gets the same failure; a negative marker is only written on a real miss.
 *
 * Hot products: with a local cache (src/cache/local-product-cache.ts, real
 * Redis only) a product read from Redis is kept in process as its
 * ready-to-send body, and `localHit` answers it synchronously right after the
 * filter: no promise, no Redis, no JSON work. Fills are ticketed before the
 * Redis GET, so an invalidation that overtakes the reply refuses the fill.
 *
 * @example
 *   if (guard.rejects(id)) return notFound('bloom_filter');
 *   const body = guard.localHit(id);           // Buffer: res.end(body)
 *   const outcome = await guard.resolve(id);
 */
import { NO_FILL, type LocalProductCache } from './cache/local-product-cache.js';
import type { BloomFilter } from './filter/bloom-filter.js';
import type { Logger } from './logger.js';
import type { LookupCounters } from './metrics/lookup-counters.js';
import { toProduct, type Product } from './product.js';
import type { ProductCache } from './store/product-cache.js';
import type { ProductStore } from './store/product-store.js';
import type { RedisConnection } from './store/redis-connection.js';
import type { UnconfirmedCacheWrites } from './store/unconfirmed-cache-writes.js';

/** What `resolve` answers for an id the filter passed. */
export type ResolvedOutcome =
  | { readonly found: true; readonly product: Product; readonly source: 'cache' | 'database' }
  | { readonly found: false; readonly source: 'negative_cache' | 'database' };

/** A lookup's answer: the filter's rejection, or what the cache and database said. */
export type LookupOutcome = ResolvedOutcome | { readonly found: false; readonly source: 'bloom_filter' };

/** The cache commands a lookup uses. */
export type LookupCache = Pick<ProductCache, 'get' | 'fillProduct' | 'setAbsent'>;

export interface LookupGuardOptions {
  readonly filter: () => Pick<BloomFilter, 'has'>;
  readonly cache: LookupCache;
  readonly redis: Pick<RedisConnection, 'healthy'>;
  readonly products: Pick<ProductStore, 'get'>;
  readonly counters: LookupCounters;
  /** Ids whose cache entry may be stale until a create's or delete's write lands (see store/unconfirmed-cache-writes.ts). */
  readonly unconfirmed: Pick<UnconfirmedCacheWrites, 'has'>;
  readonly logger: Logger;
  /**
   * LOOKUP_PATH=pool: the filter check goes to the worker pool, micro-batched
   * (see src/filter/micro-batcher.ts). Unset: the main thread reads the bits.
   */
  readonly poolCheck?: (id: string) => Promise<boolean>;
  /** The false-negative audit: sees every filter rejection, checks a sample later. */
  readonly audit?: { sample(id: string): void };
  /** The in-process cache of hot products (LOCAL_CACHE_ENTRIES > 0 with a real Redis); absent: off. */
  readonly local?: Pick<LocalProductCache, 'get' | 'beginFill' | 'fill'>;
  /**
   * Cluster mode: may the filter answer 404 alone (InstanceLease.mayRejectFromFilter)?
   * False: a lookup the filter rejects goes on to the cache and the database
   * instead (fail open): without a valid lease or behind the feed, writers may
   * have acknowledged creates this filter lacks. Absent: always (one instance).
   */
  readonly mayRejectFromFilter?: () => boolean;
  /**
   * Cluster mode: may a negative marker for this id be served
   * (RecentCreates.trustsNegative: not after a recent create of it, not while
   * or soon after failing open)? False: the database answers. Absent: always.
   */
  readonly trustsNegative?: (id: string) => boolean;
  /**
   * Cluster mode: may a product cached in Redis for this id be served
   * (RecentDeletes.trustsProduct: not soon after another instance deleted it,
   * whose marker write may have failed)? False: the database answers. Absent: always.
   */
  readonly trustsProduct?: (id: string) => boolean;
}

export class LookupGuard {
  readonly #o: LookupGuardOptions;
  readonly #inFlight = new Map<string, Promise<ResolvedOutcome>>();

  constructor(options: LookupGuardOptions) {
    this.#o = options;
  }

  /** True when the id certainly does not exist (the filter has not all its bits). Counts the rejection. */
  rejects(id: string): boolean {
    return !this.#o.filter().has(id) && this.#filterRejects(id);
  }

  /**
   * The filter lacks `id`: true (counted, sampled for the audit), unless the
   * cluster fails open: false, and the id goes on to the cache and the database (resolve).
   */
  #filterRejects(id: string): boolean {
    if (this.#o.mayRejectFromFilter?.() === false) return false;
    this.#o.counters.bloomRejected++;
    this.#o.audit?.sample(id);
    return true;
  }

  /**
   * The ready-to-send `200` body of a product held in the local cache, or
   * undefined (then `resolve`). Synchronous and allocation-free; counts the hit.
   * An id with an unconfirmed write of this instance is never answered here:
   * the write's read-your-writes goes through the database until Redis has it.
   */
  localHit(id: string): Buffer | undefined {
    const local = this.#o.local;
    if (local === undefined || this.#o.unconfirmed.has(id)) return undefined;
    const body = local.get(id);
    if (body !== undefined) this.#o.counters.localCacheHit++;
    return body;
  }

  /** True when single lookups check the filter on the main thread (LOOKUP_PATH=inline). */
  get inline(): boolean {
    return this.#o.poolCheck === undefined;
  }

  /** The pool path's filter check: resolves true when the id certainly does not exist. Counts the rejection. */
  async rejectsInPool(id: string): Promise<boolean> {
    const mayExist = await this.#o.poolCheck!(id);
    // Asked after the check resolved: the lease may have lapsed meanwhile.
    return !mayExist && this.#filterRejects(id);
  }

  /**
   * Cache, then database, for an id the filter passed. Redis errors fall
   * through to the database; rejects only when the database fails
   * (DatabaseUnavailableError: 503, never a 404).
   */
  resolve(id: string): Promise<ResolvedOutcome> {
    const counters = this.#o.counters;
    // A flight that began before a create of this id reached the filter is
    // taken out of the map by forgetFlights (own writes, and in cluster mode
    // other instances' creates when applied), so a later lookup never joins it.
    let shared = this.#inFlight.get(id);
    if (shared !== undefined) counters.coalesced++;
    else {
      const flight: Promise<ResolvedOutcome> = this.#resolveOnce(id).finally(() => {
        if (this.#inFlight.get(id) === flight) this.#inFlight.delete(id); // not a newer flight that replaced it
      });
      shared = flight;
      this.#inFlight.set(id, flight);
    }
    // Outcomes are counted per lookup (not per shared query), so that
    // lookups - db_queries is the number of database round trips avoided.
    return shared.then((outcome) => {
      countOutcome(counters, outcome);
      return outcome;
    });
  }

  /**
   * A create's ids are in the filter and its 201 is about to be sent: lookups
   * of them from now on must not join a flight already under way, whose
   * database read may predate the commit (it would answer 404 after the 201).
   * The writer calls this between its filter add and its acknowledgement (and
   * in cluster mode, each instance when it applies another's create: the
   * creator's 201 waits for that);
   * lookups that joined before keep that flight's answer, which is fine: they
   * began before the create was acknowledged.
   */
  forgetFlights(ids: readonly string[]): void {
    for (const id of ids) this.#inFlight.delete(id);
  }

  async #resolveOnce(id: string): Promise<ResolvedOutcome> {
    const { cache, redis, products, counters, unconfirmed, local } = this.#o;
    // While a create's or delete's cache write is unconfirmed, the entry may be stale: ask the database.
    if (redis.healthy && !unconfirmed.has(id)) {
      // Before the GET is sent: an invalidation of this id that arrives before
      // its reply (it may overtake it) stamps the id above the ticket, and the
      // fill is refused (see src/cache/local-product-cache.ts).
      const ticket = local === undefined ? NO_FILL : local.beginFill();
      try {
        const cached = await cache.get(id);
        if (cached.kind === 'product' && (this.#o.trustsProduct?.(id) ?? true)) {
          // Only what Redis holds is kept locally: a database read is not
          // covered by tracking until its own cache fill lands.
          if (ticket !== NO_FILL) local?.fill(ticket, cached.product);
          return { found: true, product: cached.product, source: 'cache' };
        }
        // Cluster mode: a marker written by another instance before a create it
        // did not see may outlive that create's 201 (src/cluster/recent-creates.ts).
        if (cached.kind === 'absent' && (this.#o.trustsNegative?.(id) ?? true)) return { found: false, source: 'negative_cache' };
      } catch {
        counters.cacheErrors++;
      }
    }
    counters.dbQueries++;
    const row = await products.get(id);
    if (row !== undefined) {
      const product = toProduct(row);
      // NX: this read may predate an update or delete that committed and wrote
      // its own entry (the new product or the marker) before this SET lands;
      // every write leaves a key, so a late fill is a no-op rather than serving
      // the old row for up to CACHE_TTL_S on every instance.
      if (redis.healthy) cache.fillProduct(product).catch(() => counters.cacheErrors++);
      return { found: true, product, source: 'database' };
    }
    // Issued in the same tick as the database miss: a create that commits later
    // writes its product after this on the same connection, and SET NX keeps
    // the marker from overwriting a product that is already there.
    if (redis.healthy) cache.setAbsent(id).catch(() => counters.cacheErrors++);
    return { found: false, source: 'database' };
  }
}

function countOutcome(c: LookupCounters, outcome: ResolvedOutcome): void {
  switch (outcome.source) {
    case 'cache':
      c.cacheHit++;
      break;
    case 'negative_cache':
      c.negativeCacheHit++;
      break;
    case 'database':
      if (outcome.found) c.dbHit++;
      else c.dbMiss++;
      break;
  }
}
