/**
 * The guard's single flight and the writer together: a lookup that starts
 * after a create's acknowledgement must not take the answer of a lookup of the
 * same id whose database read began before the commit (a 404 after a 201).
 */
import { describe, expect, it } from 'vitest';
import { createFilter } from './helpers/filter-fixtures.js';
import { guardAndWriter } from './helpers/guard-and-writer.js';
import { heldReadsDatabase } from './helpers/held-reads-database.js';

function service(withFlights: boolean) {
  const db = heldReadsDatabase();
  const filter = createFilter(1000);
  filter.add('SKU-NEW'); // a false positive before the create: the lookup goes to the database
  const cache = { get: async () => ({ kind: 'miss' as const }), setProduct: async () => undefined, fillProduct: async () => undefined, setAbsent: async () => undefined, markAbsent: async () => undefined, sendQueued: () => undefined };
  return { db, ...guardAndWriter({ products: db.store, filter, cache, redis: { healthy: true }, flights: withFlights }) };
}

describe('a lookup after a create is acknowledged', () => {
  it('reads the database again instead of joining a flight that read it before the commit', async () => {
    const { db, guard, writer } = service(true);
    db.holdReads();
    const begun = db.readBegun();
    const before = guard.resolve('SKU-NEW');
    await begun; // its read sees no row
    await writer.create({ id: 'SKU-NEW', name: 'New', price: 1 }); // the 201
    db.releaseReads();
    const after = guard.resolve('SKU-NEW'); // same tick: the older flight is still registered
    expect(await before).toMatchObject({ found: false });
    expect(await after).toMatchObject({ found: true, source: 'database' });
    writer.close();
  });

  it('would answer 404 after the 201 if the writer did not end the older flight (the case above guards against this)', async () => {
    const { db, guard, writer } = service(false);
    db.holdReads();
    const begun = db.readBegun();
    const before = guard.resolve('SKU-NEW');
    await begun;
    await writer.create({ id: 'SKU-NEW', name: 'New', price: 1 });
    db.releaseReads();
    const after = guard.resolve('SKU-NEW'); // same tick: the older flight is still registered
    await before;
    expect(await after).toMatchObject({ found: false });
    writer.close();
  });
});
