/** ProductWriter.update and the local-cache invalidation every write does. */
import { afterEach, describe, expect, it } from 'vitest';
import { ProductNotFoundError } from '../src/errors.js';
import { ActiveFilter } from '../src/filter/active-filter.js';
import type { FilterPool } from '../src/filter/pool.js';
import { createLogger } from '../src/logger.js';
import { Watermark } from '../src/persistence/watermark.js';
import type { Product } from '../src/product.js';
import { ProductWriter } from '../src/product-writes.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** A writer over an in-memory table whose cache SETs settle when the test says so. */
function setUp() {
  const rows = new Map<string, Product>([['lamp', { id: 'lamp', name: 'Lamp', price: 9.5 }]]);
  const sets: { product: Product; settle: (ok: boolean) => void }[] = [];
  const events: string[] = [];
  const unconfirmed = new UnconfirmedCacheWrites();
  const writer = new ProductWriter({
    products: {
      insert: async () => null,
      insertMany: async () => ({ created: [], conflicts: [] }),
      delete: async (id) => rows.delete(id),
      update: async (p) => {
        if (!rows.has(p.id)) return false;
        rows.set(p.id, p);
        events.push('commit');
        return true;
      },
    },
    active: new ActiveFilter({ filter: createFilter(100), pool: {} as FilterPool }),
    cache: {
      setProduct: (product) =>
        new Promise<void>((resolve, reject) => {
          events.push('set sent');
          sets.push({ product, settle: (ok) => (ok ? resolve() : reject(new Error('timeout'))) });
        }),
      markAbsent: async () => undefined,
      sendQueued: () => undefined,
    },
    redis: { healthy: true },
    watermark: new Watermark(0),
    snapshotter: { notifyWrite: () => undefined },
    unconfirmed,
    local: { invalidate: (id) => void events.push(`local dropped ${id}`) },
    logger: createLogger('silent'),
    scheduler: new ManualScheduler(),
  });
  cleanups.push(() => writer.close());
  return { writer, rows, sets, events, unconfirmed };
}

describe('ProductWriter.update', () => {
  it('commits, sends the SET, drops the local copy when it is sent and when it lands, then resolves', async () => {
    const { writer, rows, sets, events, unconfirmed } = setUp();
    let resolved = false;
    const updated = writer.update({ id: 'lamp', name: 'Brass lamp', price: 12 }).then((p) => {
      resolved = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    expect(rows.get('lamp')?.price).toBe(12);
    expect(sets).toHaveLength(1);
    // Until Redis confirms it, lookups of the id bypass both caches.
    expect(unconfirmed.has('lamp')).toBe(true);
    expect(resolved).toBe(false);
    sets[0]!.settle(true);
    expect(await updated).toEqual({ id: 'lamp', name: 'Brass lamp', price: 12 });
    expect(unconfirmed.has('lamp')).toBe(false);
    expect(events).toEqual(['commit', 'local dropped lamp', 'set sent', 'local dropped lamp']);
  });

  it('still resolves when the SET fails: the id stays unconfirmed (lookups bypass the stale entry) until a retry lands', async () => {
    const { writer, sets, unconfirmed } = setUp();
    const updated = writer.update({ id: 'lamp', name: 'Brass lamp', price: 12 });
    await new Promise((r) => setImmediate(r));
    sets[0]!.settle(false);
    await updated;
    expect(unconfirmed.has('lamp')).toBe(true);
  });

  it('rejects with ProductNotFoundError for an unknown id and writes nothing', async () => {
    const { writer, sets, unconfirmed } = setUp();
    await expect(writer.update({ id: 'nope', name: 'n', price: 1 })).rejects.toBeInstanceOf(ProductNotFoundError);
    expect(sets).toHaveLength(0);
    expect(unconfirmed.size).toBe(0);
  });
});
