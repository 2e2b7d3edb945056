import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../src/errors.js';
import { ActiveFilter } from '../src/filter/active-filter.js';
import type { FilterPool } from '../src/filter/pool.js';
import { createLogger } from '../src/logger.js';
import { Watermark } from '../src/persistence/watermark.js';
import { ProductWriter, RETRY_MS } from '../src/product-writes.js';
import { ProductStore } from '../src/store/products.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { waitFor } from './helpers/wait-for.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(setProduct: () => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-writes-'));
  const products = ProductStore.open({ path: join(dir, 'p.db'), synchronous: 'normal' });
  const filter = createFilter(1000);
  const watermark = new Watermark(0);
  const unconfirmed = new UnconfirmedCacheWrites();
  let notified = 0;
  const scheduler = new ManualScheduler();
  const writer = new ProductWriter({
    products,
    active: new ActiveFilter({ filter, pool: {} as FilterPool }), // single creates never use the pool
    cache: { setProduct, markAbsent: async () => undefined },
    redis: { healthy: true },
    watermark,
    snapshotter: { notifyWrite: () => void notified++ },
    unconfirmed,
    logger: createLogger('silent'),
    scheduler,
  });
  cleanups.push(() => {
    writer.close();
    products.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { writer, products, filter, watermark, unconfirmed, scheduler, notified: () => notified };
}

describe('ProductWriter.create', () => {
  it('commits, adds to the filter and advances the watermark before returning', () => {
    const { writer, products, filter, watermark, notified } = setup(async () => undefined);
    writer.create({ id: 'p-1', name: 'P', price: 1 });
    expect(products.get('p-1')).toMatchObject({ id: 'p-1' });
    expect(filter.has('p-1')).toBe(true);
    expect(filter.items).toBe(1);
    expect(watermark.value).toBe(products.maxRowid());
    expect(notified()).toBe(1);
    expect(() => writer.create({ id: 'p-1', name: 'again', price: 2 })).toThrow(ConflictError);
  });

  it('retries a failed cache write while Redis stays healthy, and lookups bypass the cache until it lands', async () => {
    let calls = 0;
    const { writer, unconfirmed, scheduler } = setup(async () => {
      calls++;
      if (calls === 1) throw new Error('command timed out');
    });
    writer.create({ id: 'p-2', name: 'P', price: 1 });
    await waitFor('the retry to be scheduled after the first write failed', () => calls === 1 && scheduler.pending === 1, 1000);
    expect(unconfirmed.has('p-2')).toBe(true);
    scheduler.advance(RETRY_MS - 1);
    expect(calls).toBe(1); // not before the delay is up
    scheduler.advance(1);
    await waitFor('the retry to land', () => !unconfirmed.has('p-2'), 1000);
    expect(calls).toBe(2);
  });
});
