/**
 * Several workers add disjoint id sets to the same SharedArrayBuffer at once.
 * Atomics.or must make this indistinguishable from adding them one by one on
 * one thread: every id found, and the bit array equal byte for byte.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { packIds } from '../../src/filter/id-batch.js';
import { FilterPool } from '../../src/filter/pool.js';
import { bitsOf, createFilter, sku } from '../helpers/filter-fixtures.js';

const total = 200_000;
const batch = 2_000; // under the split threshold: 100 separate tasks in flight at once

describe('concurrent adds from several workers', () => {
  // Few shards, so workers keep hitting the same words and cache lines.
  const shared = createFilter(total, 0.01, 4);
  const pool = new FilterPool({ filter: shared, threads: 3 });

  afterAll(async () => {
    await pool.close();
  });

  it('lose no bit: every id found, bits equal to a serial build', async () => {
    const batches: string[][] = [];
    for (let start = 0; start < total; start += batch) {
      batches.push(Array.from({ length: batch }, (_, i) => sku(start + i)));
    }
    const processed = await Promise.all(batches.map((ids) => pool.addPacked(packIds(ids))));
    expect(processed.reduce((a, b) => a + b, 0)).toBe(total);
    expect(pool.stats().completed).toBeGreaterThanOrEqual(batches.length);

    const serial = createFilter(total, 0.01, 4);
    for (let i = 0; i < total; i++) serial.add(sku(i));

    for (let i = 0; i < total; i++) {
      if (!shared.has(sku(i))) throw new Error(`false negative for ${sku(i)}`);
    }
    expect(bitsOf(shared).equals(bitsOf(serial))).toBe(true);
  });
});
