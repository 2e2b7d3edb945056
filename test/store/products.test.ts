import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProductStore, type Product } from '../../src/store/products.js';

let dir: string;
let path: string;
let store: ProductStore;

function product(id: string, price = 1): Product {
  return { id, name: `Name ${id}`, price };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bloomgate-products-'));
  path = join(dir, 'nested', 'products.db');
  store = ProductStore.open({ path, synchronous: 'full' });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ProductStore', () => {
  it('inserts, reports conflicts without throwing, and reads back', () => {
    const before = Date.now();
    expect(store.insert({ id: 'a', name: 'Lamp', price: 9.5 })).toBe(1);
    expect(store.insert(product('b'))).toBe(2);
    expect(store.insert({ id: 'a', name: 'Other', price: 1 })).toBeNull();
    const a = store.get('a');
    expect(a).toMatchObject({ id: 'a', name: 'Lamp', price: 9.5, rowid: 1 });
    expect(a?.createdAt).toBeGreaterThanOrEqual(before);
    expect(a?.createdAt).toBeLessThanOrEqual(Date.now());
    expect(store.get('missing')).toBeUndefined();
  });

  it('deletes, counts and tracks the largest rowid', () => {
    expect(store.count()).toBe(0);
    expect(store.maxRowid()).toBe(0);
    for (const id of ['a', 'b', 'c']) store.insert(product(id));
    expect(store.count()).toBe(3);
    expect(store.maxRowid()).toBe(3);
    expect(store.delete('b')).toBe(true);
    expect(store.delete('b')).toBe(false);
    expect(store.count()).toBe(2);
    expect(store.get('b')).toBeUndefined();
  });

  it('never reuses a rowid, even after the largest row is deleted (the watermark depends on it)', () => {
    store.insert(product('a'));
    store.insert(product('b'));
    store.delete('b');
    expect(store.maxRowid()).toBe(1);
    expect(store.insert(product('c'))).toBe(3);
    store.delete('a');
    store.delete('c');
    expect(store.maxRowid()).toBe(0);
    expect(store.insert(product('d'))).toBe(4);
  });

  it('streams ids after a rowid in ascending chunks, never an empty one', () => {
    for (let i = 1; i <= 25; i++) store.insert(product(`id-${i}`));
    const chunks = [...store.idsAfter(0, 10)];
    expect(chunks.map((c) => c.ids.length)).toEqual([10, 10, 5]);
    expect(chunks.map((c) => c.lastRowid)).toEqual([10, 20, 25]);
    expect(chunks.flatMap((c) => c.ids)).toEqual(Array.from({ length: 25 }, (_, i) => `id-${i + 1}`));
    expect([...store.idsAfter(20, 10)]).toEqual([{ ids: ['id-21', 'id-22', 'id-23', 'id-24', 'id-25'], lastRowid: 25 }]);
    expect([...store.idsAfter(25, 10)]).toEqual([]);
    expect([...store.idsAfter(15, 5)].map((c) => c.ids.length)).toEqual([5, 5]);
    store.delete('id-3');
    expect([...store.idsAfter(0, 3)][0]).toEqual({ ids: ['id-1', 'id-2', 'id-4'], lastRowid: 4 });
  });

  it('lets writes happen between chunks and picks the new rows up', () => {
    for (let i = 1; i <= 4; i++) store.insert(product(`id-${i}`));
    const seen: string[] = [];
    for (const { ids } of store.idsAfter(0, 2)) {
      seen.push(...ids);
      if (seen.length === 2) expect(store.insert(product('late'))).toBe(5); // a cursor would make this throw
    }
    expect(seen).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'late']);
  });

  it('rejects bad idsAfter arguments at the call', () => {
    expect(() => store.idsAfter(-1, 10)).toThrow('afterRowid must be a non-negative integer, got -1');
    expect(() => store.idsAfter(0, 0)).toThrow('chunkSize must be a positive integer, got 0');
  });

  it('insertMany: conflicts with existing rows and in-batch duplicates after the first', () => {
    store.insert(product('old'));
    const result = store.insertMany([product('x'), product('old'), product('y'), product('x')]);
    expect(result.created.map((c) => c.id)).toEqual(['x', 'y']);
    // Rowids ascend but may have gaps: AUTOINCREMENT spends one on a conflicting insert.
    const [x, y] = result.created;
    expect(x?.rowid).toBeGreaterThan(1);
    expect(y?.rowid).toBeGreaterThan(x?.rowid ?? Infinity);
    expect(store.get('y')?.rowid).toBe(y?.rowid);
    expect(result.conflicts).toEqual(['old', 'x']);
    expect(store.count()).toBe(3);
    expect(store.insertMany([])).toEqual({ created: [], conflicts: [] });
  });

  it('insertMany is one transaction: a failure mid-batch writes nothing', () => {
    // A second connection plants a trigger that fails on one id.
    const other = new Database(path);
    other.exec("CREATE TRIGGER boom BEFORE INSERT ON products WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;");
    other.close();
    expect(() => store.insertMany([product('a'), product('b'), product('boom'), product('c')])).toThrow('boom');
    expect(store.count()).toBe(0);
    expect(store.get('a')).toBeUndefined();
  });

  it('keeps rows across close and reopen, count included', () => {
    store.insertMany([product('a'), product('b')]);
    store.close();
    store = ProductStore.open({ path, synchronous: 'full' });
    expect(store.count()).toBe(2);
    expect(store.get('b')).toMatchObject({ id: 'b', rowid: 2 });
    expect(store.insert(product('c'))).toBe(3);
  });

  it('applies WAL and the configured synchronous level', () => {
    expect(store.pragmas()).toEqual({ journalMode: 'wal', synchronous: 'full' });
    store.close();
    store = ProductStore.open({ path, synchronous: 'normal' });
    expect(store.pragmas()).toEqual({ journalMode: 'wal', synchronous: 'normal' });
  });

  it('refuses a database from a newer schema version', () => {
    store.close();
    const other = new Database(path);
    other.pragma('user_version = 99');
    other.close();
    expect(() => ProductStore.open({ path, synchronous: 'full' })).toThrow('has schema version 99; this build knows version 1');
    store = ProductStore.open({ path: ':memory:', synchronous: 'full' });
  });

  it('close is idempotent', () => {
    store.close();
    expect(() => store.close()).not.toThrow();
  });
});

describe('settings', () => {
  it('keeps the first value written for a key, across reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bloomgate-settings-'));
    const path = join(dir, 'p.db');
    const store = ProductStore.open({ path, synchronous: 'normal' });
    expect(store.setting('hash_seed')).toBeUndefined();
    expect(store.initSetting('hash_seed', '42')).toBe('42');
    expect(store.initSetting('hash_seed', '43')).toBe('42');
    store.close();
    const again = ProductStore.open({ path, synchronous: 'normal' });
    expect(again.setting('hash_seed')).toBe('42');
    again.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
