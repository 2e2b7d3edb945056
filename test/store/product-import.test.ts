import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importProductsFile } from '../../src/store/product-import.js';
import { SqliteProductStore } from '../../src/store/sqlite-product-store.js';
import { sku } from '../helpers/ids.js';

let dir: string;
let store: SqliteProductStore;

function writeIds(name: string, content: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** Collects what onChunk receives. */
function collector(): { chunks: string[][]; onChunk: (ids: readonly string[]) => void } {
  const chunks: string[][] = [];
  return { chunks, onChunk: (ids) => void chunks.push([...ids]) };
}

const open = (name: string): Promise<SqliteProductStore> => SqliteProductStore.open({ path: join(dir, name), synchronous: 'full' });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bloomgate-import-'));
  store = await open('products.db');
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('importProductsFile', () => {
  it('skips blank lines and whitespace, imports duplicates once, counts invalid ids', async () => {
    const file = writeIds(
      'ids.txt',
      ['\ufeffSKU-1', '  SKU-2\t', '', '   ', 'SKU-1', 'SKU-3\r', 'bad\u0001id', 'x'.repeat(257), 'SKU-2', 'é'.repeat(128), ''].join('\n'),
    );
    const { chunks, onChunk } = collector();
    const result = await importProductsFile(store, file, onChunk, 2);
    expect(result).toMatchObject({ lines: 10, imported: 4, duplicates: 2, invalid: 2 });
    expect(result?.ms).toBeGreaterThanOrEqual(0);
    expect(chunks).toEqual([['SKU-1', 'SKU-2'], ['SKU-3', 'é'.repeat(128)]]);
    expect(await store.count()).toBe(4);
    expect(await store.get('SKU-3')).toMatchObject({ id: 'SKU-3', name: 'Product SKU-3', price: 0 });
  });

  it('counts lines like wc -l, plus a last line without a newline', async () => {
    expect(await importProductsFile(store, writeIds('a.txt', 'a\nb\n'), () => {})).toMatchObject({ lines: 2, imported: 2 });
    await store.close();
    store = await open('second.db');
    expect(await importProductsFile(store, writeIds('b.txt', 'a\nb'), () => {})).toMatchObject({ lines: 2, imported: 2 });
    await store.close();
    store = await open('third.db');
    expect(await importProductsFile(store, writeIds('c.txt', ''), () => {})).toMatchObject({ lines: 0, imported: 0 });
  });

  it('counts a line of malformed UTF-8 as invalid, but accepts a real U+FFFD', async () => {
    const file = writeIds('utf8.txt', Buffer.concat([Buffer.from('ok\nbad'), Buffer.from([0xc3, 0x28]), Buffer.from('\nreal\ufffd\n')]));
    const result = await importProductsFile(store, file, () => {});
    expect(result).toMatchObject({ lines: 3, imported: 2, invalid: 1 });
    expect(await store.get('real\ufffd')).toBeDefined();
  });

  it('imports only into an empty store', async () => {
    await store.insert({ id: 'existing', name: 'n', price: 1 });
    const { chunks, onChunk } = collector();
    expect(await importProductsFile(store, writeIds('ids.txt', 'a\nb\n'), onChunk)).toBeNull();
    expect(chunks).toEqual([]);
    expect(await store.count()).toBe(1);
  });

  it('returns null when the file does not exist', async () => {
    expect(await importProductsFile(store, join(dir, 'missing.txt'), () => {})).toBeNull();
  });

  it('rejects other read errors instead of pretending the file is absent', async () => {
    await expect(importProductsFile(store, dir, () => {})).rejects.toThrow(/EISDIR/);
  });

  it('awaits each chunk in order, after the rows are committed', async () => {
    const file = writeIds('ids.txt', 'a\nb\nc\n');
    const seen: string[] = [];
    await importProductsFile(
      store,
      file,
      async (ids) => {
        expect(await store.get(ids[0] ?? '')).toBeDefined(); // committed and readable
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(...ids);
      },
      1,
    );
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('imports 1,000,000 ids in seconds', async () => {
    const n = 1_000_000;
    const ids = Array.from({ length: n }, (_, i) => sku(i));
    const file = writeIds('products-1m.txt', `${ids.join('\n')}\n`);
    let received = 0;
    const result = await importProductsFile(store, file, (chunk) => {
      received += chunk.length;
    });
    expect(result).toMatchObject({ lines: n, imported: n, duplicates: 0, invalid: 0 });
    expect(received).toBe(n);
    expect(await store.count()).toBe(n);
    for (const i of [0, 1, 4_242, 500_000, n - 1]) expect(await store.get(ids[i] ?? '')).toMatchObject({ id: ids[i] });

    const started = performance.now();
    const reps = 1_000;
    for (let i = 0; i < reps; i++) await store.count();
    const countUs = ((performance.now() - started) * 1000) / reps;
    console.log(`import of ${n} ids: ${result?.ms} ms; count() at ${n} rows: ${countUs.toFixed(1)} us`);
  });
});
