import { beforeEach, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../src/errors.js';
import { LookupGuard, type LookupCache } from '../src/guard.js';
import { createLogger } from '../src/logger.js';
import { LookupCounters } from '../src/metrics/lookup-counters.js';
import type { CacheLookup } from '../src/store/product-cache.js';
import type { ProductStore, StoredProduct } from '../src/store/product-store.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';

/** A cache whose reads stay pending until the test releases them. */
function gatedCache(answer: CacheLookup) {
  const gates: (() => void)[] = [];
  const calls = { get: 0, fillProduct: 0, setAbsent: 0 };
  const cache: LookupCache = {
    get: () => {
      calls.get++;
      return new Promise<CacheLookup>((resolve) => gates.push(() => resolve(answer)));
    },
    fillProduct: async () => void calls.fillProduct++,
    setAbsent: async () => void calls.setAbsent++,
  };
  return { cache, calls, release: () => gates.splice(0).forEach((g) => g()) };
}

const healthyRedis = { healthy: true };
const downRedis = { healthy: false };

describe('LookupGuard', () => {
  /** The database: one row, or no answer at all while `down` is set. */
  let down: boolean;
  let products: Pick<ProductStore, 'get'>;

  beforeEach(() => {
    down = false;
    const rows = new Map<string, StoredProduct>([['hot', { id: 'hot', name: 'Hot', price: 1, createdAt: 0 }]]);
    products = {
      get: async (id) => {
        if (down) throw new DatabaseUnavailableError('no answer within 2000 ms');
        return rows.get(id);
      },
    };
  });

  function guardWith(cache: LookupCache, redis = healthyRedis, unconfirmed = new UnconfirmedCacheWrites()) {
    const filter = createFilter(1000);
    filter.add('hot');
    filter.add('ghost'); // in the filter, not in the database: a false positive
    const counters = new LookupCounters();
    const guard = new LookupGuard({ filter: () => filter, cache, redis, products, counters, unconfirmed, logger: createLogger('silent') });
    return { guard, counters };
  }

  it('makes one cache read and one database query for 1,000 simultaneous lookups of one uncached id', async () => {
    const { cache, calls, release } = gatedCache({ kind: 'miss' });
    const { guard, counters } = guardWith(cache);
    const lookups = Array.from({ length: 1000 }, () => guard.resolve('hot'));
    release();
    const outcomes = await Promise.all(lookups);
    expect(outcomes.every((o) => o.found && o.source === 'database')).toBe(true);
    expect(calls.get).toBe(1);
    expect(counters.dbQueries).toBe(1);
    expect(counters.dbHit).toBe(1000);
    expect(counters.coalesced).toBe(999);
    expect(counters.dbRoundtripsAvoided).toBe(999);
    expect(calls.fillProduct).toBe(1);
  });

  it('rejects ids the filter lacks and counts them', () => {
    const { guard, counters } = guardWith(gatedCache({ kind: 'miss' }).cache);
    expect(guard.rejects('never-added')).toBe(true);
    expect(guard.rejects('hot')).toBe(false);
    expect(counters.bloomRejected).toBe(1);
  });

  it('negatively caches a false positive the database does not have', async () => {
    const { cache, calls, release } = gatedCache({ kind: 'miss' });
    const { guard, counters } = guardWith(cache);
    const pending = guard.resolve('ghost');
    release();
    expect(await pending).toEqual({ found: false, source: 'database' });
    expect(calls.setAbsent).toBe(1);
    expect(counters.dbMiss).toBe(1);
  });

  it('asks the database, not the cache, while a create or delete has an unconfirmed cache write', async () => {
    const unconfirmed = new UnconfirmedCacheWrites();
    const write = unconfirmed.track('hot', { kind: 'product', product: { id: 'hot', name: 'Hot', price: 1 } });
    const { cache, calls } = gatedCache({ kind: 'absent' }); // a stale marker the create could not replace
    const { guard } = guardWith(cache, healthyRedis, unconfirmed);
    expect(await guard.resolve('hot')).toMatchObject({ found: true, source: 'database' });
    expect(calls.get).toBe(0);
    // A newer write replaces the pending one; confirming the old one does not end the bypass.
    const newer = unconfirmed.track('hot', { kind: 'absent' });
    unconfirmed.confirm('hot', write);
    expect(unconfirmed.has('hot')).toBe(true);
    unconfirmed.confirm('hot', newer);
    expect(unconfirmed.has('hot')).toBe(false);
  });

  it('goes straight to the database while Redis is down', async () => {
    const { cache, calls } = gatedCache({ kind: 'miss' });
    const { guard, counters } = guardWith(cache, downRedis);
    expect(await guard.resolve('hot')).toMatchObject({ found: true, source: 'database' });
    expect(calls.get).toBe(0);
    expect(calls.fillProduct).toBe(0);
    expect(counters.dbQueries).toBe(1);
  });

  it('rejects every shared lookup with DatabaseUnavailableError when the database does not answer, and writes no negative marker', async () => {
    down = true;
    const { cache, calls, release } = gatedCache({ kind: 'miss' });
    const { guard, counters } = guardWith(cache);
    const lookups = [guard.resolve('ghost'), guard.resolve('ghost'), guard.resolve('hot')];
    release();
    const settled = await Promise.allSettled(lookups);
    for (const s of settled) expect(s.status === 'rejected' && s.reason instanceof DatabaseUnavailableError).toBe(true);
    expect(counters.dbQueries).toBe(2); // 'ghost' shared one query
    expect(counters.dbMiss).toBe(0);
    expect(calls.setAbsent).toBe(0); // never a 404 marker for an id the database could not check
    down = false;
    const again = guard.resolve('hot');
    release();
    expect(await again).toMatchObject({ found: true, source: 'database' }); // recovers by itself
  });
});
