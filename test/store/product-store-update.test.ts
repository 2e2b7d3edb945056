import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresProductStore } from '../../src/store/postgres-product-store.js';
import type { ProductStore } from '../../src/store/product-store.js';
import { SqliteProductStore } from '../../src/store/sqlite-product-store.js';
import { createTestDatabase } from '../helpers/postgres-database.js';

/** Each backend, opened on a fresh database, with what removes it. */
const BACKENDS: readonly { name: string; open: () => Promise<{ store: ProductStore; drop: () => Promise<void> }> }[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'store-update-'));
      const store = await SqliteProductStore.open({ path: join(dir, 'products.db') });
      return { store, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const db = await createTestDatabase();
      const store = await PostgresProductStore.open({ url: db.url });
      return { store, drop: () => db.drop() };
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(BACKENDS)('ProductStore.update on $name', ({ open }) => {
  it('replaces name and price of an existing row, keeps its position, and answers false for an unknown id', async () => {
    const { store, drop } = await open();
    cleanups.push(drop, () => store.close());
    const created = await store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 });
    const before = await store.get('SKU-1');
    expect(await store.update({ id: 'SKU-1', name: 'Brass lamp', price: 12.25 })).toBe(true);
    const after = await store.get('SKU-1');
    expect(after).toMatchObject({ id: 'SKU-1', name: 'Brass lamp', price: 12.25, createdAt: before!.createdAt });
    expect(await store.update({ id: 'nope', name: 'x', price: 1 })).toBe(false);
    expect(await store.get('nope')).toBeUndefined();
    expect(await store.count()).toBe(1);
    // Same position: a replay from the created row's position still finds only it.
    const pages: string[] = [];
    for await (const page of store.idsFrom(created!.position, 10)) pages.push(...page);
    expect(pages).toEqual(['SKU-1']);
  });
});
