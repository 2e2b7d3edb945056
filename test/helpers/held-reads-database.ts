/**
 * An in-memory product table whose reads can be held: a held read answers
 * what the table held when it BEGAN, as a database read that predates a
 * concurrent write does. For tests of lookups racing creates, updates and
 * deletes (single flight, late cache fills).
 */
import type { Product } from '../../src/product.js';
import type { CreatedRow, StoredProduct } from '../../src/store/product-store.js';

export function heldReadsDatabase(initial: readonly Product[] = []) {
  const rows = new Map<string, StoredProduct>(initial.map((p) => [p.id, { ...p, createdAt: 0 }]));
  const held: (() => void)[] = [];
  let holdReads = false;
  let notifyRead: () => void = () => undefined;
  return {
    /** Resolves once a held read has begun (taken its view of the table). */
    readBegun: () => new Promise<void>((resolve) => (notifyRead = resolve)),
    store: {
      get: async (id: string): Promise<StoredProduct | undefined> => {
        const seen = rows.get(id); // the read's view: taken when it starts
        if (holdReads) {
          notifyRead();
          await new Promise<void>((resolve) => held.push(resolve));
        }
        return seen;
      },
      insert: async (p: Product): Promise<CreatedRow | null> => {
        if (rows.has(p.id)) return null;
        rows.set(p.id, { ...p, createdAt: 0 });
        return { id: p.id, position: rows.size };
      },
      insertMany: async () => ({ created: [], conflicts: [] }),
      delete: async (id: string) => rows.delete(id),
      update: async (p: Product) => rows.has(p.id) && (rows.set(p.id, { ...p, createdAt: 0 }), true),
    },
    holdReads: () => void (holdReads = true),
    /** Stops holding reads and lets the held ones answer (their flights settle a few ticks later). */
    releaseReads: () => {
      holdReads = false;
      held.splice(0).forEach((release) => release());
    },
  };
}
