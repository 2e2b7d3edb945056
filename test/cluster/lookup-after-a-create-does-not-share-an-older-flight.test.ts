/**
 * The lookup's single flight in cluster mode (src/guard.ts `flights`): a GET
 * that arrives after a create was applied here must not take the answer of a
 * flight that began before it, whose database read may predate the commit
 * (that would be a 404 after another instance's 201).
 */
import { describe, expect, it } from 'vitest';
import { RecentCreates } from '../../src/cluster/recent-creates.js';
import { LookupGuard } from '../../src/guard.js';
import { createLogger } from '../../src/logger.js';
import { LookupCounters } from '../../src/metrics/lookup-counters.js';
import type { StoredProduct } from '../../src/store/product-store.js';
import { UnconfirmedCacheWrites } from '../../src/store/unconfirmed-cache-writes.js';
import { createFilter } from '../helpers/filter-fixtures.js';

describe('LookupGuard single flight in cluster mode', () => {
  it('starts a new flight for a lookup that arrives after a create of its id was applied', async () => {
    const rows = new Set<string>();
    // The first database read is held: it began before the commit and will say "absent".
    let releaseFirst: (() => void) | undefined;
    let reads = 0;
    const products = {
      get: async (id: string): Promise<StoredProduct | undefined> => {
        const found = rows.has(id);
        if (reads++ === 0) await new Promise<void>((resolve) => (releaseFirst = resolve));
        return found ? { id, name: 'N', price: 1, createdAt: 0 } : undefined;
      },
    };
    const filter = createFilter(1000);
    filter.add('x'); // a false positive before the create
    const recent = new RecentCreates({ holdMs: 1_000, mayReject: () => true });
    const guard = new LookupGuard({
      filter: () => filter,
      cache: { get: async () => ({ kind: 'miss' }), fillProduct: async () => undefined, setAbsent: async () => undefined },
      redis: { healthy: true },
      products,
      counters: new LookupCounters(),
      unconfirmed: new UnconfirmedCacheWrites(),
      logger: createLogger('silent'),
      flights: recent,
    });
    const before = guard.resolve('x');
    while (releaseFirst === undefined) await new Promise((r) => setImmediate(r));
    // Another instance commits x; its feed entry is applied here; its 201 follows.
    rows.add('x');
    recent.noteCreated(['x']);
    const after = guard.resolve('x');
    releaseFirst();
    expect(await before).toEqual({ found: false, source: 'database' });
    expect(await after).toMatchObject({ found: true, source: 'database' });
  });
});
