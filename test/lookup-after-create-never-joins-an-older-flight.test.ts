/**
 * The guard's single flight and the writer together: a lookup that starts
 * after a create's acknowledgement must not take the answer of a lookup of the
 * same id whose database read began before the commit (a 404 after a 201).
 */
import { describe, expect, it } from 'vitest';
import { ActiveFilter } from '../src/filter/active-filter.js';
import type { FilterPool } from '../src/filter/pool.js';
import { LookupGuard } from '../src/guard.js';
import { createLogger } from '../src/logger.js';
import { LookupCounters } from '../src/metrics/lookup-counters.js';
import { Watermark } from '../src/persistence/watermark.js';
import { ProductWriter } from '../src/product-writes.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';
import { heldReadsDatabase } from './helpers/held-reads-database.js';

function service(withFlights: boolean) {
  const db = heldReadsDatabase();
  const filter = createFilter(1000);
  filter.add('SKU-NEW'); // a false positive before the create: the lookup goes to the database
  const unconfirmed = new UnconfirmedCacheWrites();
  const redis = { healthy: true };
  const cache = { get: async () => ({ kind: 'miss' as const }), setProduct: async () => undefined, fillProduct: async () => undefined, setAbsent: async () => undefined, markAbsent: async () => undefined, sendQueued: () => undefined };
  const guard = new LookupGuard({ filter: () => filter, cache, redis, products: db.store, counters: new LookupCounters(), unconfirmed, logger: createLogger('silent') });
  const writer = new ProductWriter({
    products: db.store,
    active: new ActiveFilter({ filter, pool: {} as FilterPool }), // single creates never use the pool
    cache,
    redis,
    watermark: new Watermark(0),
    snapshotter: { notifyWrite: () => undefined },
    unconfirmed,
    logger: createLogger('silent'),
    ...(withFlights ? { flights: guard } : {}),
  });
  return { db, guard, writer };
}

describe('a lookup after a create is acknowledged', () => {
  it('reads the database again instead of joining a flight that read it before the commit', async () => {
    const { db, guard, writer } = service(true);
    db.holdReads();
    const begun = db.readBegun();
    const before = guard.resolve('SKU-NEW');
    await begun; // its read sees no row
    await writer.create({ id: 'SKU-NEW', name: 'New', price: 1 }); // the 201
    db.releaseReads();
    const after = guard.resolve('SKU-NEW'); // same tick: the older flight is still registered
    expect(await before).toMatchObject({ found: false });
    expect(await after).toMatchObject({ found: true, source: 'database' });
    writer.close();
  });

  it('would answer 404 after the 201 if the writer did not end the older flight (the case above guards against this)', async () => {
    const { db, guard, writer } = service(false);
    db.holdReads();
    const begun = db.readBegun();
    const before = guard.resolve('SKU-NEW');
    await begun;
    await writer.create({ id: 'SKU-NEW', name: 'New', price: 1 });
    db.releaseReads();
    const after = guard.resolve('SKU-NEW'); // same tick: the older flight is still registered
    await before;
    expect(await after).toMatchObject({ found: false });
    writer.close();
  });
});
