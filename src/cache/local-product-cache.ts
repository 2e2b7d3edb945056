/**
 * The in-process cache in front of Redis for hot products: each entry is the
 * ready-to-send body of a `200` from cache, so a hit costs one Map lookup and
 * no JSON work. Bounded by entries and by body bytes, each entry with a
 * maximum age measured on an injected clock. Only products are cached here;
 * negative markers stay in Redis (after the filter they are not hot traffic).
 *
 * Staleness is bounded by invalidation (src/cache/cache-invalidation.ts feeds
 * `invalidate` / `invalidateAll` / `suspend` / `resume`), by the writes of this
 * instance (which call `invalidate` themselves), and by `maxAgeMs` as a backstop.
 *
 * Fills are ticketed, because an invalidation can arrive before the reply it
 * invalidates (the Redis client-side caching docs, "race condition"):
 *
 *   const ticket = local.beginFill();        // before the Redis GET is sent
 *   const hit = await cache.get(id);
 *   if (hit.kind === 'product') local.fill(ticket, hit.product);   // false: refused
 *
 * A ticket is the current value of a sequence that every event bumps. An
 * invalidation stamps the id's slot (ids hashed onto INVALIDATION_SLOTS
 * slots) with a new number; a flush, suspend or resume stamps everything. A fill
 * whose ticket is older than its id's slot or than the last flush is refused,
 * so a value read before an invalidation that arrived meanwhile is never
 * stored. Per slot rather than global, so a write to one product does not
 * refuse the fills of others in flight; ids sharing a slot only refuse more.
 *
 * @example
 *   const local = new LocalProductCache({ maxEntries: 10_000, maxBytes: 8 << 20, maxAgeMs: 60_000 });
 *   const body = local.get('SKU-1');  // Buffer: res.end(body) | undefined: miss
 */
import { realScheduler, type Scheduler } from '../lifecycle/scheduler.js';
import type { Product } from '../product.js';

export interface LocalProductCacheOptions {
  /** At most this many entries (at least 1). */
  readonly maxEntries: number;
  /** At most this many body bytes in all (at least 1); a larger body is not cached. */
  readonly maxBytes: number;
  /** An entry older than this (in `now()` units, ms) reads as a miss and is dropped. */
  readonly maxAgeMs: number;
  /** Milliseconds on a monotonic clock; injectable so tests never sleep. Default `performance.now`. */
  readonly now?: () => number;
  /**
   * Hits within this many ms share one clock reading (0: read the clock on
   * every hit). Reading the clock costs about twice the Map lookup, so the
   * default 100 trades up to 100 ms of extra age for a hit at Map speed.
   */
  readonly clockResolutionMs?: number;
  /** Runs the one-shot timer that forgets a shared clock reading; tests pass a manual one. */
  readonly scheduler?: Scheduler;
}

const DEFAULT_CLOCK_RESOLUTION_MS = 100;

/** What `beginFill` answers while fills are refused (invalidation not established). */
export const NO_FILL = -1;

/** Slots of invalidation stamps, a power of two: 32 KiB of Float64. */
const INVALIDATION_SLOTS = 4096;

/** FNV-1a over UTF-16 code units, onto a slot. */
function slotOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & (INVALIDATION_SLOTS - 1);
}

/**
 * The exact body the HTTP layer writes for a product found in the cache
 * (src/http/server.ts, writeOutcome): same keys, same order, `"source":"cache"`,
 * so a local hit is indistinguishable from a Redis hit to the client.
 */
export function cacheHitBody(product: Product): string {
  return JSON.stringify({ id: product.id, name: product.name, price: product.price, source: 'cache' });
}

class Entry {
  /** Read since it was (re)queued: gets a second chance instead of eviction. */
  referenced = false;
  constructor(
    readonly body: Buffer,
    readonly storedAt: number,
  ) {}
}

function checkPositive(name: string, value: number, integer: boolean): string | undefined {
  const ok = integer ? Number.isSafeInteger(value) && value >= 1 : Number.isFinite(value) && value > 0;
  return ok ? undefined : `options.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`;
}

export class LocalProductCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly clockResolutionMs: number;
  readonly #now: () => number;
  readonly #scheduler: Scheduler;
  /** The shared clock reading, or -1 when the next hit must read the clock. */
  #cachedNow = -1;
  readonly #forgetNow = (): void => {
    this.#cachedNow = -1;
  };
  /** Insertion (queue) order is eviction order; see #evict. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  /** Bumped by every invalidation, flush, suspend and resume; a ticket is its value. */
  #sequence = 0;
  /** The sequence number of the last flush, suspend or resume. */
  #flushedAt = 0;
  /** Per slot, the sequence number of the last invalidation of an id in it. */
  readonly #invalidatedAt = new Float64Array(INVALIDATION_SLOTS);
  /** False until invalidation is established, and whenever it is lost. */
  #fillable = false;
  /** Counters for metrics and tests. */
  readonly stats = { hits: 0, misses: 0, fills: 0, refusedFills: 0, evictions: 0, expired: 0, invalidations: 0, flushes: 0 };

  constructor(options: LocalProductCacheOptions) {
    const problems = [
      checkPositive('maxEntries', options.maxEntries, true),
      checkPositive('maxBytes', options.maxBytes, true),
      checkPositive('maxAgeMs', options.maxAgeMs, false),
      options.clockResolutionMs === undefined || (Number.isFinite(options.clockResolutionMs) && options.clockResolutionMs >= 0)
        ? undefined
        : `options.clockResolutionMs must be a number >= 0, got ${options.clockResolutionMs}`,
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new RangeError(problems.join('; '));
    this.maxEntries = options.maxEntries;
    this.maxBytes = options.maxBytes;
    this.maxAgeMs = options.maxAgeMs;
    this.#now = options.now ?? (() => performance.now());
    this.clockResolutionMs = options.clockResolutionMs ?? DEFAULT_CLOCK_RESOLUTION_MS;
    this.#scheduler = options.scheduler ?? realScheduler;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Body bytes held (the quantity `maxBytes` bounds). */
  get bytes(): number {
    return this.#bytes;
  }

  /** True while fills are accepted (invalidation established). */
  get fillable(): boolean {
    return this.#fillable;
  }

  /**
   * The stored body for `id` (the same Buffer each time: no allocation on a
   * hit), or undefined. An entry past `maxAgeMs` is dropped and reads as a miss.
   */
  get(id: string): Buffer | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      this.stats.misses++;
      return undefined;
    }
    const now = this.#cachedNow >= 0 ? this.#cachedNow : this.#readClock();
    if (now - entry.storedAt >= this.maxAgeMs) {
      this.#delete(id, entry);
      this.stats.expired++;
      this.stats.misses++;
      return undefined;
    }
    entry.referenced = true;
    this.stats.hits++;
    return entry.body;
  }

  /** The ticket for a fill: call before sending the Redis GET whose answer you will `fill`. */
  beginFill(): number {
    return this.#fillable ? this.#sequence : NO_FILL;
  }

  /**
   * Stores the product's body if nothing was invalidated since `ticket` was
   * taken (and fills are accepted); true when stored.
   */
  fill(ticket: number, product: Product): boolean {
    // Why this is enough: every event that could make a value read after
    // `ticket` stale (an invalidation of this id, a flush, a lost or a
    // re-established tracking connection) stamped a number above the ticket
    // before we got here.
    if (!this.#fillable || ticket < this.#flushedAt || ticket < this.#invalidatedAt[slotOf(product.id)]!) {
      this.stats.refusedFills++;
      return false;
    }
    const body = Buffer.from(cacheHitBody(product));
    if (body.byteLength > this.maxBytes) return false;
    const old = this.#entries.get(product.id);
    if (old !== undefined) this.#delete(product.id, old);
    this.#entries.set(product.id, new Entry(body, this.#now()));
    this.#bytes += body.byteLength;
    this.stats.fills++;
    this.#evict();
    return true;
  }

  /** Drops `id` and refuses fills in flight. For invalidation messages, and for this instance's writes. */
  invalidate(id: string): void {
    this.#invalidatedAt[slotOf(id)] = ++this.#sequence;
    this.stats.invalidations++;
    const entry = this.#entries.get(id);
    if (entry !== undefined) this.#delete(id, entry);
  }

  /** Drops everything and refuses fills in flight (a flush invalidation). */
  invalidateAll(): void {
    this.#flushedAt = ++this.#sequence;
    this.stats.flushes++;
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** Invalidation is lost: drop everything and refuse fills until `resume`. */
  suspend(): void {
    this.#fillable = false;
    this.invalidateAll();
  }

  /**
   * Invalidation is established again. Bumps the sequence too: a GET sent
   * while it was down may have read a value whose invalidation was missed.
   */
  resume(): void {
    this.#flushedAt = ++this.#sequence;
    this.#fillable = true;
  }

  /**
   * After node-lru-cache's ttlResolution: one reading serves every hit until a
   * one-shot, unref'd timer forgets it, so hits allocate nothing and an idle
   * cache runs no timer.
   */
  #readClock(): number {
    const now = this.#now();
    if (this.clockResolutionMs > 0) {
      this.#cachedNow = now;
      this.#scheduler.after(this.clockResolutionMs, this.#forgetNow);
    }
    return now;
  }

  #delete(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.body.byteLength;
  }

  /**
   * Second chance (CLOCK) over insertion order, an LRU approximation that keeps
   * `get` to a field write: the oldest entry goes unless it was read since it
   * was queued, in which case it is re-queued once at the young end.
   */
  #evict(): void {
    if (this.#withinBounds()) return;
    // The iterator is live: a re-queued entry is visited again after the
    // others, with its flag cleared, so the loop ends.
    for (const [id, entry] of this.#entries) {
      this.#entries.delete(id);
      if (entry.referenced) {
        entry.referenced = false;
        this.#entries.set(id, entry);
      } else {
        this.#bytes -= entry.body.byteLength;
        this.stats.evictions++;
        if (this.#withinBounds()) return;
      }
    }
  }

  #withinBounds(): boolean {
    return this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes;
  }
}
