/** LookupGuard with a local cache: what fills it, what refuses a fill, and what a hit costs the counters. */
import { describe, expect, it } from 'vitest';
import { LocalProductCache, cacheHitBody } from '../src/cache/local-product-cache.js';
import { LookupGuard, type LookupCache } from '../src/guard.js';
import { createLogger } from '../src/logger.js';
import { LookupCounters } from '../src/metrics/lookup-counters.js';
import type { Product } from '../src/product.js';
import type { CacheLookup } from '../src/store/product-cache.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';

const lamp: Product = { id: 'lamp', name: 'Lamp', price: 9.5 };

/** A cache answering `answer`, each read pending until the test releases it. */
function gatedCache(answer: () => CacheLookup) {
  const gates: (() => void)[] = [];
  const cache: LookupCache = {
    get: () => new Promise<CacheLookup>((resolve) => gates.push(() => resolve(answer()))),
    fillProduct: async () => undefined,
    setAbsent: async () => undefined,
  };
  return { cache, release: () => gates.splice(0).forEach((g) => g()) };
}

function setUp(answer: () => CacheLookup) {
  const filter = createFilter(1000);
  filter.add(lamp.id);
  const local = new LocalProductCache({ maxEntries: 10, maxBytes: 4096, maxAgeMs: 60_000, now: () => 0, clockResolutionMs: 0 });
  local.resume(); // invalidation established
  const counters = new LookupCounters();
  const unconfirmed = new UnconfirmedCacheWrites();
  const { cache, release } = gatedCache(answer);
  const products = { get: async (id: string) => (id === lamp.id ? { ...lamp, createdAt: 0 } : undefined) };
  const guard = new LookupGuard({ filter: () => filter, cache, redis: { healthy: true }, products, counters, unconfirmed, local, logger: createLogger('silent') });
  return { guard, local, counters, unconfirmed, release };
}

describe('LookupGuard with a local cache', () => {
  it('fills from a Redis product hit, then answers the ready body synchronously and counts local_cache_hit', async () => {
    const { guard, counters, release } = setUp(() => ({ kind: 'product', product: lamp }));
    expect(guard.localHit(lamp.id)).toBeUndefined();
    const pending = guard.resolve(lamp.id);
    release();
    expect(await pending).toMatchObject({ found: true, source: 'cache' });
    expect(guard.localHit(lamp.id)?.toString()).toBe(cacheHitBody(lamp));
    expect(counters).toMatchObject({ cacheHit: 1, localCacheHit: 1 });
    expect(counters.lookups).toBe(2);
  });

  it('does not fill from the database: only what Redis holds is covered by tracking', async () => {
    const { guard, release } = setUp(() => ({ kind: 'miss' }));
    const pending = guard.resolve(lamp.id);
    release();
    expect(await pending).toMatchObject({ found: true, source: 'database' });
    expect(guard.localHit(lamp.id)).toBeUndefined();
  });

  it('refuses the fill when an invalidation of the id overtook the Redis reply', async () => {
    const { guard, local, release } = setUp(() => ({ kind: 'product', product: lamp }));
    const pending = guard.resolve(lamp.id); // ticket taken, GET in flight
    local.invalidate(lamp.id);
    release();
    expect(await pending).toMatchObject({ source: 'cache' });
    expect(guard.localHit(lamp.id)).toBeUndefined();
    expect(local.stats.refusedFills).toBe(1);
  });

  it('never answers locally an id with an unconfirmed write of this instance', async () => {
    const { guard, unconfirmed, release } = setUp(() => ({ kind: 'product', product: lamp }));
    const pending = guard.resolve(lamp.id);
    release();
    await pending;
    unconfirmed.track(lamp.id, { kind: 'product', product: { ...lamp, price: 12 } });
    expect(guard.localHit(lamp.id)).toBeUndefined();
  });
});
