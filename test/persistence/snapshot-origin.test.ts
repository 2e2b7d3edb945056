import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { originMismatch, snapshotOrigin } from '../../src/persistence/snapshot-origin.js';
import { SqliteProductStore } from '../../src/store/sqlite-product-store.js';

const dirs: string[] = [];
const stores: SqliteProductStore[] = [];
async function store(): Promise<SqliteProductStore> {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-origin-'));
  dirs.push(dir);
  const s = await SqliteProductStore.open({ path: join(dir, 'p.db'), synchronous: 'normal' });
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const rows = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i + 1}`, name: prefix, price: 1 }));

describe('snapshot origin', () => {
  it('accepts a snapshot of this database at a watermark it still has', async () => {
    const a = await store();
    await a.insertMany(rows('a', 3));
    const origin = await snapshotOrigin(a, 3);
    await a.insert({ id: 'later', name: 'l', price: 1 });
    expect(await originMismatch(a, origin, 3)).toBeNull();
    expect(await originMismatch(a, await snapshotOrigin(a, 0), 0)).toBeNull();
    expect(await a.nextPosition()).toBe(await a.horizon()); // SQLite: one writer, the same
    const atHorizon = await a.horizon();
    expect(await originMismatch(a, await snapshotOrigin(a, atHorizon), atHorizon)).toBeNull();
  });

  it('refuses another database, a missing origin, a watermark past the horizon, and a changed row before the watermark', async () => {
    const a = await store();
    const b = await store();
    await a.insertMany(rows('a', 2));
    await b.insertMany(rows('b', 2));
    expect(await originMismatch(b, await snapshotOrigin(a, 3), 3)).toBe('other_database');
    expect(await originMismatch(a, undefined, 3)).toBe('other_database');
    expect(await originMismatch(a, '{not json', 3)).toBe('other_database');
    for (const notAnObject of ['null', '5', '"x"']) expect(await originMismatch(a, notAnObject, 3)).toBe('other_database');
    // A restored backup: the snapshot's watermark is past everything the database ever handed out.
    expect(await originMismatch(a, await snapshotOrigin(a, 3), 6)).toBe('ahead_of_database');
    const origin = await snapshotOrigin(a, 3); // last row before 3: a-2 (position 2)
    await a.delete('a-2');
    await a.insert({ id: 'a-new', name: 'n', price: 1 }); // position 3; the row before 3 is now a-1
    expect(await originMismatch(a, origin, 3)).toBe('watermark_row_changed');
  });
});
