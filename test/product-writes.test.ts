import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, DatabaseUnavailableError } from '../src/errors.js';
import { ActiveFilter, type GenerationPool } from '../src/filter/active-filter.js';
import type { FilterPool } from '../src/filter/pool.js';
import { createLogger } from '../src/logger.js';
import { Watermark } from '../src/persistence/watermark.js';
import { ProductWriter, RETRY_MS } from '../src/product-writes.js';
import type { CreatedRow, ProductStore } from '../src/store/product-store.js';
import { UnconfirmedCacheWrites } from '../src/store/unconfirmed-cache-writes.js';
import { createFilter } from './helpers/filter-fixtures.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { waitFor } from './helpers/wait-for.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

type WriteStore = Pick<ProductStore, 'insert' | 'insertMany' | 'delete' | 'update'>;

/** An in-memory store whose inserts resolve when the test says so (a commit in flight). */
function fakeStore() {
  const rows = new Map<string, number>();
  let position = 0;
  const held: { resolve: () => void; reject: (err: Error) => void }[] = [];
  let hold = false;
  const gate = (): Promise<void> =>
    hold ? new Promise<void>((resolve, reject) => held.push({ resolve, reject })) : Promise.resolve();
  const store: WriteStore = {
    insert: async (p): Promise<CreatedRow | null> => {
      await gate();
      if (rows.has(p.id)) return null;
      rows.set(p.id, ++position);
      return { id: p.id, position };
    },
    insertMany: async (ps) => {
      await gate();
      const created: CreatedRow[] = [];
      const conflicts: string[] = [];
      for (const p of ps) {
        if (rows.has(p.id)) conflicts.push(p.id);
        else {
          rows.set(p.id, ++position);
          created.push({ id: p.id, position });
        }
      }
      return { created, conflicts };
    },
    delete: async (id) => rows.delete(id),
    update: async (p) => rows.has(p.id),
  };
  return {
    store,
    rows,
    holdCommits: () => void (hold = true),
    commit: () => held.shift()?.resolve(),
    fail: (err: Error) => held.shift()?.reject(err),
    held: () => held.length,
  };
}

function setup(setProduct: () => Promise<void> = async () => undefined) {
  const db = fakeStore();
  const filter = createFilter(1000);
  const watermark = new Watermark(0);
  const unconfirmed = new UnconfirmedCacheWrites();
  let notified = 0;
  const scheduler = new ManualScheduler();
  const active = new ActiveFilter({ filter, pool: {} as FilterPool }); // single creates never use the pool
  const writer = new ProductWriter({
    products: db.store,
    active,
    cache: { setProduct, markAbsent: async () => undefined, sendQueued: () => undefined },
    redis: { healthy: true },
    watermark,
    snapshotter: { notifyWrite: () => void notified++ },
    unconfirmed,
    logger: createLogger('silent'),
    scheduler,
  });
  cleanups.push(() => writer.close());
  return { writer, db, filter, active, watermark, unconfirmed, scheduler, notified: () => notified };
}

describe('ProductWriter.create', () => {
  it('commits, adds to the filter and ends its watermark token before resolving; a conflict rejects', async () => {
    const { writer, db, filter, watermark, notified } = setup();
    await writer.create({ id: 'p-1', name: 'P', price: 1 });
    expect(db.rows.has('p-1')).toBe(true);
    expect(filter.has('p-1')).toBe(true);
    expect(filter.items).toBe(1);
    expect(watermark.inFlight).toBe(0);
    expect(notified()).toBe(1);
    await expect(writer.create({ id: 'p-1', name: 'again', price: 2 })).rejects.toBeInstanceOf(ConflictError);
    expect(watermark.inFlight).toBe(0);
  });

  it('holds the watermark from before the write is sent until its id is in the filter', async () => {
    const { writer, db, filter, watermark } = setup();
    db.holdCommits();
    const created = writer.create({ id: 'p-2', name: 'P', price: 1 });
    // The write is in flight: a horizon read now may already cover its row, so it must not be usable yet.
    expect(watermark.inFlight).toBe(1);
    watermark.offer(100);
    expect(watermark.value).toBe(0);
    db.commit();
    await created;
    expect(filter.has('p-2')).toBe(true);
    expect(watermark.value).toBe(100);
  });

  it('adds to a rebuild generation that began while the commit was in flight (generations read after the commit)', async () => {
    const { writer, db, active } = setup();
    db.holdCommits();
    const created = writer.create({ id: 'p-3', name: 'P', price: 1 });
    const next = createFilter(1000);
    active.beginNext({ filter: next, pool: {} as FilterPool }); // the rebuild's scan may have run before this row committed
    db.commit();
    await created;
    expect(next.has('p-3')).toBe(true);
  });

  it('on an unknown outcome (database unavailable) puts the id in the filter anyway, ends the token and rejects', async () => {
    const { writer, db, filter, watermark } = setup();
    db.holdCommits();
    const created = writer.create({ id: 'p-4', name: 'P', price: 1 });
    watermark.offer(50);
    db.fail(new DatabaseUnavailableError('no answer within 2000 ms'));
    await expect(created).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(filter.has('p-4')).toBe(true); // the row may have committed below 50: never pass it without its id
    expect(filter.items).toBe(0); // not counted: it may not exist
    expect(watermark.value).toBe(50);
  });

  it('retries a failed cache write while Redis stays healthy, and lookups bypass the cache until it lands', async () => {
    let calls = 0;
    const { writer, unconfirmed, scheduler } = setup(async () => {
      calls++;
      if (calls === 1) throw new Error('command timed out');
    });
    await writer.create({ id: 'p-5', name: 'P', price: 1 });
    await waitFor('the retry to be scheduled after the first write failed', () => calls === 1 && scheduler.pending === 1, 1000);
    expect(unconfirmed.has('p-5')).toBe(true);
    scheduler.advance(RETRY_MS - 1);
    expect(calls).toBe(1); // not before the delay is up
    scheduler.advance(1);
    await waitFor('the retry to land', () => !unconfirmed.has('p-5'), 1000);
    expect(calls).toBe(2);
  });
});

describe('ProductWriter.createBatch', () => {
  /** A writer whose pool adds wait until the test releases them (a batch being hashed in the workers). */
  function heldBatchWriter() {
    const { db, watermark } = setup();
    const finishes: (() => void)[] = [];
    const pool: GenerationPool = {
      addPacked: () => new Promise<number>((resolve) => finishes.push(() => resolve(2))),
      checkPacked: () => Promise.reject(new Error('not used by writes')),
      stats: () => ({ threads: 0, queueSize: 0, utilization: 0, completed: 0 }),
      close: async () => undefined,
    };
    const active = new ActiveFilter({ filter: createFilter(1000), pool });
    const batchWriter = new ProductWriter({
      products: db.store,
      active,
      cache: { setProduct: async () => undefined, markAbsent: async () => undefined, sendQueued: () => undefined },
      redis: { healthy: true },
      watermark,
      snapshotter: { notifyWrite: () => undefined },
      unconfirmed: new UnconfirmedCacheWrites(),
      logger: createLogger('silent'),
      scheduler: new ManualScheduler(),
    });
    cleanups.push(() => batchWriter.close());
    const addsStarted = () => waitFor('the pool add to start', () => finishes.length === 1, 1000);
    const finishAdds = () => finishes.splice(0).forEach((finish) => finish());
    return { watermark, active, pool, batchWriter, addsStarted, finishAdds };
  }

  it('commits once, adds through the pool, and holds the watermark until the adds finished', async () => {
    const { watermark, batchWriter, addsStarted, finishAdds } = heldBatchWriter();
    const result = batchWriter.createBatch([
      { id: 'b-1', name: 'B', price: 1 },
      { id: 'b-2', name: 'B', price: 1 },
    ]);
    await addsStarted();
    watermark.offer(10);
    expect(watermark.value).toBe(0);
    finishAdds();
    expect(await result).toEqual({ created: 2, conflicts: [] });
    expect(watermark.value).toBe(10);
  });

  it('counts a batch on the filter in service when its adds finish, even if a rebuild swapped meanwhile', async () => {
    const { active, pool, batchWriter, addsStarted, finishAdds } = heldBatchWriter();
    const result = batchWriter.createBatch([
      { id: 'r-1', name: 'R', price: 1 },
      { id: 'r-2', name: 'R', price: 1 },
    ]);
    await addsStarted();
    // The online rebuild's swap, as src/upkeep/online-rebuild.ts does it: the new
    // filter takes the old counter (the batch is not counted yet), then serves.
    const rebuilt = createFilter(1000);
    active.beginNext({ filter: rebuilt, pool });
    rebuilt.setItems(active.filter.items);
    active.swap();
    finishAdds();
    expect(await result).toEqual({ created: 2, conflicts: [] });
    expect(active.filter).toBe(rebuilt);
    expect(rebuilt.items).toBe(2);
  });
});
