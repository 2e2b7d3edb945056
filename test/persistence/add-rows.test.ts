import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packedCount } from '../../src/filter/id-batch.js';
import type { FilterPool } from '../../src/filter/pool.js';
import { addRowsThroughPool } from '../../src/persistence/add-rows.js';
import { SqliteProductStore } from '../../src/store/sqlite-product-store.js';
import { createFilter } from '../helpers/filter-fixtures.js';

const dirs: string[] = [];
const stores: SqliteProductStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

async function storeWith(n: number): Promise<SqliteProductStore> {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-addrows-'));
  dirs.push(dir);
  const store = await SqliteProductStore.open({ path: join(dir, 'p.db'), synchronous: 'normal' });
  stores.push(store);
  await store.insertMany(Array.from({ length: n }, (_, i) => ({ id: `r-${i}`, name: 'r', price: 1 })));
  return store;
}

function countingPool() {
  const pages: number[] = [];
  const pool: Pick<FilterPool, 'addPacked'> = { addPacked: async (packed: Uint8Array) => (pages.push(packedCount(packed)), packedCount(packed)) };
  return { pool, pages };
}

describe('addRowsThroughPool', () => {
  it('adds rows that fit one short page inline, without a pool task', async () => {
    const store = await storeWith(10);
    const filter = createFilter(1000);
    const { pool, pages } = countingPool();
    // Positions are rowids here: r-4 is at 5, r-3 at 4, below the watermark 5.
    expect(await addRowsThroughPool(store.idsFrom(5, 100), pool, { pageIds: 100, maxInFlight: 2, inlineFilter: filter })).toBe(6);
    expect(pages).toEqual([]);
    expect(filter.has('r-4')).toBe(true);
    expect(filter.has('r-3')).toBe(false);
  });

  it('streams every page to the pool otherwise, calling afterPage for each', async () => {
    const store = await storeWith(250);
    const { pool, pages } = countingPool();
    const seen: number[] = [];
    const added = await addRowsThroughPool(store.scanIds(100), pool, { pageIds: 100, maxInFlight: 2, afterPage: async (n: number) => void seen.push(n) });
    expect(added).toBe(250);
    expect(pages).toEqual([100, 100, 50]);
    expect(seen).toEqual([100, 100, 50]);
  });
});
