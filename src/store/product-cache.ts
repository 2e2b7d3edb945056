/**
 * The Redis cache in front of the product table, positive and negative in ONE
 * key per id, so a lookup is one GET:
 *
 *   bloom:cache:<namespace>:<id>  = product JSON  (`{"id":...}`, a positive entry)
 *                                 | "!absent"      (a negative entry: the database has no such id)
 *
 * Product JSON always starts with `{`, so it can never equal the marker. Every
 * entry has a TTL with +-10% jitter, so entries filled together do not all
 * expire (and hit the database) together. A value that is neither (corrupt,
 * foreign) reads as a miss: the database answers (the NX fill leaves it to expire).
 *
 * Races the write paths must respect (the cache is never the source of truth):
 * - `setAbsent` is SET NX, so a negative fill that loses a race with a create's
 *   `setProduct` cannot hide the new product. A create therefore calls
 *   `setProduct` (which overwrites a marker) after it commits.
 * - `markAbsent` overwrites whatever is there: a delete drops the product and
 *   marks the id in one SET.
 * - `fillProduct` (a lookup's fill after a database read) is SET NX too, so a
 *   fill whose read predates an update or delete cannot overwrite what that
 *   write left; creates and updates call `setProduct`, which overwrites.
 *
 * Overwrites (`setProduct`, `markAbsent`) issued in one tick go to Redis as ONE
 * command (see sendQueued): a group commit resolves its creates in one
 * tick, and one SET each cost the main thread about as much as the rest of a
 * create. They are applied in the order they were issued, and only the
 * overwrites are grouped: the NX fills stay single SETs, whose order against
 * an overwrite does not matter (an NX fill never replaces what a write left).
 *
 * @example
 *   const cache = new ProductCache({ redis, namespace: 'default', ttlS: 300, negativeTtlS: 60 });
 *   const hit = await cache.get('SKU-1');   // { kind: 'product', product } | { kind: 'absent' } | { kind: 'miss' }
 *   if (hit.kind === 'miss') { const p = await store.get('SKU-1'); await (p ? cache.fillProduct(p) : cache.setAbsent('SKU-1')); }
 */
import { toProduct, type Product } from '../product.js';
import type { RedisConnection } from './redis-connection.js';

export type CacheLookup = { kind: 'product'; product: Product } | { kind: 'absent' } | { kind: 'miss' };

export interface ProductCacheOptions {
  readonly redis: RedisConnection;
  readonly namespace: string;
  /** TTL of a cached product, in seconds (before jitter). */
  readonly ttlS: number;
  /** TTL of a negative marker, in seconds (before jitter). */
  readonly negativeTtlS: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  readonly random?: () => number;
}

/** The value of a negative entry; product JSON starts with `{`, so never collides. */
export const ABSENT_MARKER = '!absent';

/** `base * 1000 * (0.9 + 0.2 * random())` ms, rounded, at least 1. */
export function jitteredTtlMs(baseS: number, random: () => number): number {
  return Math.max(1, Math.round(baseS * 1000 * (0.9 + 0.2 * random())));
}

function checkTtl(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of seconds, got ${value}`);
}

/** A positive entry's value: the three fields only, whatever else the object carries. */
function productJson(product: Product): string {
  return JSON.stringify(toProduct(product));
}

/** The cached product, or undefined when `raw` is not a product with this id. */
function parseProduct(raw: string, id: string): Product | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { id: cachedId, name, price } = value as Record<string, unknown>;
  if (cachedId !== id || typeof name !== 'string' || typeof price !== 'number' || !Number.isFinite(price)) return undefined;
  return { id, name, price };
}

/**
 * SET each KEYS[i] to ARGV[2i-1] with PX ARGV[2i], in order: the overwrites of
 * one tick in one command (one reply, one round of client-side work).
 */
const OVERWRITE_SCRIPT = "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i]) end return #KEYS";

/**
 * Keys per EVAL: a retry after an outage re-sends every pending write in one
 * tick, and one script over 100k keys would block Redis past the command timeout.
 */
const MAX_KEYS_PER_SCRIPT = 500;

/** Replies that refuse scripting itself (an ACL, a proxy or a managed Redis without EVAL), not this call. */
const SCRIPTS_REFUSED = /^(NOPERM|ERR unknown command|ERR unsupported command|ERR command not allowed)/i;

/** One SET without NX, waiting for the tick's flush. */
interface Overwrite {
  readonly key: string;
  readonly value: string;
  readonly ttlMs: number;
}

export class ProductCache {
  private readonly redis: RedisConnection;
  private readonly prefix: string;
  private readonly ttlS: number;
  private readonly negativeTtlS: number;
  private readonly random: () => number;
  /** Overwrites issued this tick, in order; sent together on the next tick boundary. */
  #overwrites: Overwrite[] = [];
  /** Settles when this tick's overwrites have landed (or failed); undefined when none is queued. */
  #overwritten: Promise<void> | undefined;
  #settleOverwrites: { resolve(): void; reject(err: unknown): void } | undefined;
  /** False once Redis refused the script itself (an ACL, scripting disabled): overwrites then go as single SETs. */
  #scripts = true;
  #overwriteCommands = 0;

  /** Overwrite commands sent to Redis (a script call or a single SET each), for tests. */
  get overwriteCommands(): number {
    return this.#overwriteCommands;
  }

  constructor(options: ProductCacheOptions) {
    checkTtl('ttlS', options.ttlS);
    checkTtl('negativeTtlS', options.negativeTtlS);
    this.redis = options.redis;
    this.prefix = `bloom:cache:${options.namespace}:`;
    this.ttlS = options.ttlS;
    this.negativeTtlS = options.negativeTtlS;
    this.random = options.random ?? Math.random;
  }

  keyFor(id: string): string {
    return this.prefix + id;
  }

  /** One GET. Rejects on a Redis error or timeout (the caller degrades to the database). */
  async get(id: string): Promise<CacheLookup> {
    this.sendQueued();
    const raw = await this.redis.client.get(this.keyFor(id));
    if (raw === null) return { kind: 'miss' };
    if (raw === ABSENT_MARKER) return { kind: 'absent' };
    const product = parseProduct(raw, id);
    return product === undefined ? { kind: 'miss' } : { kind: 'product', product };
  }

  /** Caches the product (overwriting a negative marker), PX = ttlS with +-10% jitter. */
  setProduct(product: Product): Promise<void> {
    return this.#overwrite(this.keyFor(product.id), productJson(product), jitteredTtlMs(this.ttlS, this.random));
  }

  /**
   * Caches a product a lookup read from the database, PX = ttlS with +-10%
   * jitter. NX: the read may predate an update or delete whose own SET (the new
   * product, or the marker) landed before this one; writes always leave a key,
   * so a late fill finds it and is a no-op instead of restoring the old row for
   * up to ttlS. (A foreign or corrupt value is not replaced either; it reads as
   * a miss until it expires or a write overwrites it.)
   */
  async fillProduct(product: Product): Promise<void> {
    await this.redis.client.set(this.keyFor(product.id), productJson(product), 'PX', jitteredTtlMs(this.ttlS, this.random), 'NX');
  }

  /**
   * Caches "no such id", PX = negativeTtlS with +-10% jitter. NX: never replaces
   * an existing entry, so it cannot overwrite a product a create just cached.
   */
  async setAbsent(id: string): Promise<void> {
    await this.redis.client.set(this.keyFor(id), ABSENT_MARKER, 'PX', jitteredTtlMs(this.negativeTtlS, this.random), 'NX');
  }

  /**
   * Replaces any entry (a cached product included) with a negative marker: one
   * SET, no NX, so a delete drops the product and marks the id in one step.
   */
  markAbsent(id: string): Promise<void> {
    return this.#overwrite(this.keyFor(id), ABSENT_MARKER, jitteredTtlMs(this.negativeTtlS, this.random));
  }

  /**
   * Queues an overwrite and resolves when it landed (rejects when its command
   * failed). Every overwrite queued before the send shares one command.
   */
  #overwrite(key: string, value: string, ttlMs: number): Promise<void> {
    this.#overwrites.push({ key, value, ttlMs });
    if (this.#overwritten === undefined) {
      this.#overwritten = new Promise<void>((resolve, reject) => {
        this.#settleOverwrites = { resolve, reject };
      });
      // process.nextTick runs after the current callback and every promise
      // continuation it queued: all creates a group commit resolves join.
      process.nextTick(() => this.sendQueued());
    }
    return this.#overwritten;
  }

  /**
   * Puts the queued overwrites on the connection now (they would go at the end
   * of this tick). get() calls it first, so a read issued after a write (say,
   * after its 204) is queued behind it, as if the write had been a SET of its
   * own; the writer calls it before publishing a change to other instances.
   * NX fills need no such care: an overwrite wins whichever lands first.
   */
  sendQueued(): void {
    const settle = this.#settleOverwrites;
    if (settle === undefined) return;
    const batch = this.#overwrites;
    this.#overwrites = [];
    this.#overwritten = undefined;
    this.#settleOverwrites = undefined;
    this.#send(batch).then(settle.resolve, settle.reject);
  }

  /**
   * Issues the batch's commands synchronously (the order sendQueued promises),
   * then awaits them. All or nothing per caller: a failure rejects every
   * overwrite of the batch, and the writer re-sends each id's LATEST write
   * (UnconfirmedCacheWrites), never this batch's possibly older ones.
   */
  async #send(batch: readonly Overwrite[]): Promise<void> {
    const client = this.redis.client;
    // The in-process stand-in has no network to save and a slow Lua: single SETs there.
    if (batch.length === 1 || !this.#scripts || this.redis.inProcess) {
      this.#overwriteCommands += batch.length;
      await Promise.all(batch.map((o) => client.set(o.key, o.value, 'PX', o.ttlMs)));
      return;
    }
    const calls: Promise<unknown>[] = [];
    for (let start = 0; start < batch.length; start += MAX_KEYS_PER_SCRIPT) {
      const chunk = batch.slice(start, start + MAX_KEYS_PER_SCRIPT);
      const args: (string | number)[] = chunk.map((o) => o.key);
      for (const o of chunk) args.push(o.value, o.ttlMs);
      this.#overwriteCommands++;
      // EVAL, not EVALSHA: no NOSCRIPT round trip that would let a later command overtake
      // the batch; Redis caches the compiled script by its hash anyway.
      calls.push(client.eval(OVERWRITE_SCRIPT, chunk.length, ...args));
    }
    try {
      await Promise.all(calls);
    } catch (err) {
      // Redis refusing scripts as such: later batches go as single SETs. This batch is not
      // re-sent here: a newer write of one of its ids may have landed meanwhile.
      if (err instanceof Error && err.name === 'ReplyError' && SCRIPTS_REFUSED.test(err.message)) this.#scripts = false;
      throw err;
    }
  }
}
