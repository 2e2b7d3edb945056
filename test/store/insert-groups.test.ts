import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/errors.js';
import type { Product } from '../../src/product.js';
import { InsertGroups } from '../../src/store/insert-groups.js';
import type { BatchInsertResult, CreatedRow } from '../../src/store/product-store.js';

const product = (id: string): Product => ({ id, name: `name of ${id}`, price: 1 });

/**
 * An insertMany over an in-memory table with insertMany's contract (a later
 * duplicate in a batch is a conflict), whose statements the test completes by hand.
 */
function heldTable(existing: readonly string[] = []) {
  const ids = new Set(existing);
  const statements: { products: readonly Product[]; finish(err?: Error): void }[] = [];
  let position = 0;
  const insertMany = (products: readonly Product[]): Promise<BatchInsertResult> =>
    new Promise((resolve, reject) => {
      statements.push({
        products,
        finish: (err) => {
          if (err !== undefined) return reject(err);
          position++;
          const created: CreatedRow[] = [];
          const conflicts: string[] = [];
          for (const p of products) {
            if (ids.has(p.id)) conflicts.push(p.id);
            else {
              ids.add(p.id);
              created.push({ id: p.id, position });
            }
          }
          resolve({ created, conflicts });
        },
      });
    });
  return { ids, statements, insertMany };
}

/** Lets every settled promise's continuations run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('InsertGroups', () => {
  it('sends an insert at once when nothing is in flight, and groups what arrives meanwhile into one statement', async () => {
    const table = heldTable();
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 1 });
    const first = groups.insert(product('a'));
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((id) => groups.insert(product(id)));
    expect(table.statements).toHaveLength(1); // b, c, d wait for a's statement
    table.statements[0]!.finish();
    expect(await first).toEqual({ id: 'a', position: 1 });
    await settle();
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['a'], ['b', 'c', 'd']]);
    table.statements[1]!.finish();
    expect(await Promise.all(rest)).toEqual([
      { id: 'b', position: 2 },
      { id: 'c', position: 2 },
      { id: 'd', position: 2 },
    ]);
    expect(groups.statements).toBe(2);
  });

  it('keeps up to maxInFlight statements running', async () => {
    const table = heldTable();
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 2 });
    void groups.insert(product('a'));
    void groups.insert(product('b'));
    void groups.insert(product('c'));
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['a'], ['b']]);
  });

  it('answers null to an id that exists, and to the second of two inserts of one id in a group', async () => {
    const table = heldTable(['old']);
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 1 });
    const blocker = groups.insert(product('x'));
    const results = Promise.all([groups.insert(product('old')), groups.insert(product('new')), groups.insert(product('new'))]);
    table.statements[0]!.finish();
    await blocker;
    await settle();
    table.statements[1]!.finish();
    expect(await results).toEqual([null, { id: 'new', position: 2 }, null]);
  });

  it('fails every insert of a group with the database unavailable (each may have committed), without retrying', async () => {
    const table = heldTable();
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 1 });
    const blocker = groups.insert(product('x'));
    const results = Promise.allSettled([groups.insert(product('a')), groups.insert(product('b'))]);
    table.statements[0]!.finish();
    await blocker;
    await settle();
    table.statements[1]!.finish(new DatabaseUnavailableError('timed out'));
    const settled = await results;
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(settled.map((r) => (r.status === 'rejected' ? r.reason : undefined))).toEqual([expect.any(DatabaseUnavailableError), expect.any(DatabaseUnavailableError)]);
    expect(table.statements).toHaveLength(2);
  });

  it('retries a group refused for another reason one insert at a time, so only the refused row fails', async () => {
    const table = heldTable();
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 1 });
    const blocker = groups.insert(product('x'));
    const results = Promise.allSettled([groups.insert(product('good')), groups.insert(product('bad')), groups.insert(product('fine'))]);
    table.statements[0]!.finish();
    await blocker;
    await settle();
    table.statements[1]!.finish(new Error('invalid byte sequence'));
    await settle();
    const alone = table.statements.slice(2);
    expect(alone.map((s) => s.products.map((p) => p.id))).toEqual([['good'], ['bad'], ['fine']]);
    for (const s of alone) s.finish(s.products[0]!.id === 'bad' ? new Error('invalid byte sequence') : undefined);
    const settled = await results;
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(table.ids.has('good') && table.ids.has('fine') && !table.ids.has('bad')).toBe(true);
  });

  it('caps a group at maxRows', async () => {
    const table = heldTable();
    const groups = new InsertGroups({ insertMany: table.insertMany, maxInFlight: 1, maxRows: 2 });
    const blocker = groups.insert(product('x'));
    const all = ['a', 'b', 'c'].map((id) => groups.insert(product(id)));
    table.statements[0]!.finish();
    await blocker;
    await settle();
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['x'], ['a', 'b']]);
    table.statements[1]!.finish();
    await settle();
    table.statements[2]!.finish();
    expect((await Promise.all(all)).map((r) => r?.id)).toEqual(['a', 'b', 'c']);
  });

  it('refuses bad limits', () => {
    const table = heldTable();
    expect(() => new InsertGroups({ insertMany: table.insertMany, maxInFlight: 0 })).toThrow('maxInFlight must be a positive integer, got 0');
    expect(() => new InsertGroups({ insertMany: table.insertMany, maxRows: 1.5 })).toThrow('maxRows must be a positive integer, got 1.5');
  });
});
