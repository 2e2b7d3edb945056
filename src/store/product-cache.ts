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
 * @example
 *   const cache = new ProductCache({ redis, namespace: 'default', ttlS: 300, negativeTtlS: 60 });
 *   const hit = await cache.get('SKU-1');   // { kind: 'product', product } | { kind: 'absent' } | { kind: 'miss' }
 *   if (hit.kind === 'miss') { const p = await store.get('SKU-1'); await (p ? cache.fillProduct(p) : cache.setAbsent('SKU-1')); }
 */
import type { Product } from '../product.js';
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

export class ProductCache {
  private readonly redis: RedisConnection;
  private readonly prefix: string;
  private readonly ttlS: number;
  private readonly negativeTtlS: number;
  private readonly random: () => number;

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
    const raw = await this.redis.client.get(this.keyFor(id));
    if (raw === null) return { kind: 'miss' };
    if (raw === ABSENT_MARKER) return { kind: 'absent' };
    const product = parseProduct(raw, id);
    return product === undefined ? { kind: 'miss' } : { kind: 'product', product };
  }

  /** Caches the product (overwriting a negative marker), PX = ttlS with +-10% jitter. */
  async setProduct(product: Product): Promise<void> {
    const json = JSON.stringify({ id: product.id, name: product.name, price: product.price });
    await this.redis.client.set(this.keyFor(product.id), json, 'PX', jitteredTtlMs(this.ttlS, this.random));
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
    const json = JSON.stringify({ id: product.id, name: product.name, price: product.price });
    await this.redis.client.set(this.keyFor(product.id), json, 'PX', jitteredTtlMs(this.ttlS, this.random), 'NX');
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
  async markAbsent(id: string): Promise<void> {
    await this.redis.client.set(this.keyFor(id), ABSENT_MARKER, 'PX', jitteredTtlMs(this.negativeTtlS, this.random));
  }
}
