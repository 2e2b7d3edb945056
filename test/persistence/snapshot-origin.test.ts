import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { originMismatch, snapshotOrigin } from '../../src/persistence/snapshot-origin.js';
import { ProductStore } from '../../src/store/products.js';

const dirs: string[] = [];
function store(): ProductStore {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-origin-'));
  dirs.push(dir);
  return ProductStore.open({ path: join(dir, 'p.db'), synchronous: 'normal' });
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('snapshot origin', () => {
  it('accepts a snapshot of this database at a watermark it still has', () => {
    const a = store();
    a.insertMany([1, 2, 3].map((i) => ({ id: `a-${i}`, name: 'a', price: 1 })));
    const origin = snapshotOrigin(a, 2);
    a.insert({ id: 'later', name: 'l', price: 1 });
    expect(originMismatch(a, origin, 2)).toBeNull();
    expect(originMismatch(a, snapshotOrigin(a, 0), 0)).toBeNull();
  });

  it('refuses another database, a missing origin, a watermark past the end, and a changed watermark row', () => {
    const a = store();
    const b = store();
    a.insertMany([1, 2].map((i) => ({ id: `a-${i}`, name: 'a', price: 1 })));
    b.insertMany([1, 2].map((i) => ({ id: `b-${i}`, name: 'b', price: 1 })));
    expect(originMismatch(b, snapshotOrigin(a, 2), 2)).toBe('other_database');
    expect(originMismatch(a, undefined, 2)).toBe('other_database');
    expect(originMismatch(a, '{not json', 2)).toBe('other_database');
    for (const notAnObject of ['null', '5', '"x"']) expect(originMismatch(a, notAnObject, 2)).toBe('other_database');
    expect(originMismatch(a, snapshotOrigin(a, 2), 5)).toBe('ahead_of_database');
    const origin = snapshotOrigin(a, 2);
    a.delete('a-2');
    a.insert({ id: 'a-new', name: 'n', price: 1 }); // rowid 3, but row 2 is gone
    expect(originMismatch(a, origin, 2)).toBe('watermark_row_changed');
  });
});
