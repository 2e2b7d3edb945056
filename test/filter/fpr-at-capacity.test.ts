/**
 * The filter's promise at the default size: 1,000,000 members, no false
 * negative, and a measured false-positive rate at or under the 1% target.
 * Filled through the pool, the path bulk loads take. Fixed seed and ids, so
 * the measured rate is the same on every run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PackedIdWriter } from '../../src/filter/id-batch.js';
import { FilterPool } from '../../src/filter/pool.js';
import { estimateFpr } from '../../src/filter/sizing.js';
import { createFilter, sku } from '../helpers/filter-fixtures.js';

const capacity = 1_000_000;
const targetFpr = 0.01;

describe('false-positive rate at capacity (defaults: 1,000,000 ids, p = 0.01, 64 shards)', () => {
  const filter = createFilter(capacity, targetFpr, 64);
  const pool = new FilterPool({ filter, threads: 2 });

  afterAll(async () => {
    await pool.close();
  });

  it('finds every member and stays under the target for 1,000,000 absent ids', async () => {
    // Streamed in chunks, as a bulk load from the database would be.
    const writer = new PackedIdWriter();
    const adds: Promise<number>[] = [];
    for (let i = 0; i < capacity; i++) {
      writer.append(sku(i)); // SKU-00000000 .. SKU-00999999
      if (writer.count === 250_000) adds.push(pool.addPacked(writer.finish()));
    }
    const added = (await Promise.all(adds)).reduce((a, b) => a + b, 0);
    expect(added).toBe(capacity);
    filter.addItems(added);

    let falseNegatives = 0;
    for (let i = 0; i < capacity; i++) if (!filter.has(sku(i))) falseNegatives++;
    expect(falseNegatives).toBe(0);

    let falsePositives = 0;
    for (let i = capacity; i < 2 * capacity; i++) if (filter.has(sku(i))) falsePositives++; // SKU-01000000 ..
    const measured = falsePositives / capacity;
    const { totalBits, hashes } = filter.layout.params;
    const estimate = estimateFpr(totalBits, hashes, filter.items);
    console.log(
      `fpr at capacity: measured ${measured.toFixed(6)} (${falsePositives} of ${capacity} absent ids), ` +
        `estimate ${estimate.toFixed(6)}, target ${targetFpr}, bits ${totalBits}, k ${hashes}`,
    );
    expect(measured).toBeLessThanOrEqual(targetFpr);
  });
});
