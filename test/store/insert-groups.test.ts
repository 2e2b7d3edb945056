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
  const statements: { products: readonly Product[]; budgetMs: number; finish(err?: Error): void }[] = [];
  let position = 0;
  const insertMany = (products: readonly Product[], budgetMs: number): Promise<BatchInsertResult> =>
    new Promise((resolve, reject) => {
      statements.push({
        products,
        budgetMs,
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

/** The database said no to a statement (it rolled back as a whole). */
class Refused extends Error {}

let now = 0;
/** InsertGroups over `table`, a 2000 ms bound and a manual clock (`now`). */
function groupsOver(table: ReturnType<typeof heldTable>, options: { maxInFlight?: number; maxRows?: number } = {}): InsertGroups {
  now = 0;
  return new InsertGroups({ insertMany: table.insertMany, timeoutMs: 2000, isRefusal: (err) => err instanceof Refused, clock: () => now, ...options });
}

/** Lets every settled promise's continuations run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Inserts of `ids` queued behind a blocker ('x') whose statement has answered:
 * they went out as one group, table.statements[1], still to be finished.
 */
async function groupBehindBlocker(ids: readonly string[], existing: readonly string[] = []) {
  const table = heldTable(existing);
  const groups = groupsOver(table, { maxInFlight: 1 });
  const blocker = groups.insert(product('x'));
  const inserts = ids.map((id) => groups.insert(product(id)));
  table.statements[0]!.finish();
  await blocker;
  await settle();
  return { table, inserts };
}

describe('InsertGroups', () => {
  it('sends an insert at once when nothing is in flight, and groups what arrives meanwhile into one statement', async () => {
    const table = heldTable();
    const groups = groupsOver(table, { maxInFlight: 1 });
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
    const groups = groupsOver(table, { maxInFlight: 2 });
    void groups.insert(product('a'));
    void groups.insert(product('b'));
    void groups.insert(product('c'));
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['a'], ['b']]);
  });

  it('answers null to an id that exists, and to the second of two inserts of one id in a group', async () => {
    const { table, inserts } = await groupBehindBlocker(['old', 'new', 'new'], ['old']);
    const results = Promise.all(inserts);
    table.statements[1]!.finish();
    expect(await results).toEqual([null, { id: 'new', position: 2 }, null]);
  });

  it('fails every insert of a group with the database unavailable (each may have committed), without retrying', async () => {
    const { table, inserts } = await groupBehindBlocker(['a', 'b']);
    const results = Promise.allSettled(inserts);
    table.statements[1]!.finish(new DatabaseUnavailableError('timed out'));
    const settled = await results;
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(settled.map((r) => (r.status === 'rejected' ? r.reason : undefined))).toEqual([expect.any(DatabaseUnavailableError), expect.any(DatabaseUnavailableError)]);
    expect(table.statements).toHaveLength(2);
  });

  it('retries a refused group one insert at a time, in order, so only the refused row fails', async () => {
    const { table, inserts } = await groupBehindBlocker(['good', 'bad', 'fine']);
    const results = Promise.allSettled(inserts);
    table.statements[1]!.finish(new Refused('invalid byte sequence'));
    // One at a time: the next is sent when the one before answered.
    for (const id of ['good', 'bad', 'fine']) {
      await settle();
      const last = table.statements[table.statements.length - 1]!;
      expect(last.products.map((p) => p.id)).toEqual([id]);
      last.finish(id === 'bad' ? new Refused('invalid byte sequence') : undefined);
    }
    const settled = await results;
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(table.ids.has('good') && table.ids.has('fine') && !table.ids.has('bad')).toBe(true);
  });

  it('fails every insert of a group, without retrying, when the failure is not a refusal (it may have committed)', async () => {
    const { table, inserts } = await groupBehindBlocker(['a', 'b']);
    const results = Promise.allSettled(inserts);
    table.statements[1]!.finish(new RangeError('transaction id is not a safe integer'));
    expect((await results).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(table.statements).toHaveLength(2);
  });

  it('fails an insert still queued at its deadline without sending it, and gives a group its oldest member\'s remaining time', async () => {
    const table = heldTable();
    const groups = groupsOver(table, { maxInFlight: 1 });
    const blocker = groups.insert(product('x'));
    expect(table.statements[0]!.budgetMs).toBe(2000);
    const late = groups.insert(product('late')).catch((err: unknown) => err); // queued at 0 ms: deadline 2000
    now = 1500;
    const recent = groups.insert(product('recent')); // queued at 1500 ms: deadline 3500
    now = 2000;
    table.statements[0]!.finish();
    await blocker;
    await settle();
    expect(await late).toBeInstanceOf(DatabaseUnavailableError);
    expect(table.statements.map((s) => s.products.map((p) => p.id))).toEqual([['x'], ['recent']]);
    expect(table.statements[1]!.budgetMs).toBe(1500);
    table.statements[1]!.finish();
    expect(await recent).toEqual({ id: 'recent', position: 2 });
  });

  it('caps a group at maxRows', async () => {
    const table = heldTable();
    const groups = groupsOver(table, { maxInFlight: 1, maxRows: 2 });
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
    expect(() => groupsOver(table, { maxInFlight: 0 })).toThrow('maxInFlight must be a positive integer, got 0');
    expect(() => groupsOver(table, { maxRows: 1.5 })).toThrow('maxRows must be a positive integer, got 1.5');
  });
});
