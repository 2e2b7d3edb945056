/**
 * A LookupGuard and a ProductWriter over one filter, one store, one cache and
 * one set of unconfirmed cache writes, as the service wires them: for tests of
 * the races between a lookup and a write (no worker pool: single creates,
 * updates and deletes never use it).
 *
 * @example
 *   const { guard, writer } = guardAndWriter({ products: db.store, filter, cache, redis: { healthy: true } });
 */
import { ActiveFilter } from '../../src/filter/active-filter.js';
import type { BloomFilter } from '../../src/filter/bloom-filter.js';
import type { FilterPool } from '../../src/filter/pool.js';
import { LookupGuard, type LookupGuardOptions } from '../../src/guard.js';
import { createLogger } from '../../src/logger.js';
import { LookupCounters } from '../../src/metrics/lookup-counters.js';
import { Watermark } from '../../src/persistence/watermark.js';
import { ProductWriter, type ProductWriterOptions } from '../../src/product-writes.js';
import { UnconfirmedCacheWrites } from '../../src/store/unconfirmed-cache-writes.js';

export interface GuardAndWriterOptions {
  readonly products: LookupGuardOptions['products'] & ProductWriterOptions['products'];
  readonly filter: BloomFilter;
  readonly cache: LookupGuardOptions['cache'] & ProductWriterOptions['cache'];
  readonly redis: LookupGuardOptions['redis'] & ProductWriterOptions['redis'];
  /** Whether the writer tells the guard's single flight about its writes (default true, as in the service). */
  readonly flights?: boolean;
}

export function guardAndWriter(options: GuardAndWriterOptions): { guard: LookupGuard; writer: ProductWriter } {
  const { products, filter, cache, redis } = options;
  const unconfirmed = new UnconfirmedCacheWrites();
  const logger = createLogger('silent');
  const guard = new LookupGuard({ filter: () => filter, cache, redis, products, counters: new LookupCounters(), unconfirmed, logger });
  const writer = new ProductWriter({
    products,
    active: new ActiveFilter({ filter, pool: {} as FilterPool }),
    cache,
    redis,
    watermark: new Watermark(0),
    snapshotter: { notifyWrite: () => undefined },
    unconfirmed,
    logger,
    ...(options.flights === false ? {} : { flights: guard }),
  });
  return { guard, writer };
}
