import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BloomFilter } from '../../src/filter/bloom-filter.js';
import { packIds } from '../../src/filter/id-batch.js';
import { FilterPool, SPLIT_THRESHOLD_IDS, type FilterPoolOptions } from '../../src/filter/pool.js';
import { createFilter, sku } from '../helpers/filter-fixtures.js';

describe('FilterPool', () => {
  let filter: BloomFilter;
  let pool: FilterPool;

  beforeAll(() => {
    filter = createFilter(100_000);
    pool = new FilterPool({ filter, threads: 3 });
  });

  afterAll(async () => {
    await pool.close();
  });

  it('adds in the workers into the shared buffer the main thread reads, without counting items', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => sku(i));
    expect(await pool.addPacked(packIds(ids))).toBe(10_000);
    for (const id of ids) expect(filter.has(id)).toBe(true);
    expect(filter.items).toBe(0);
    expect(filter.peekDirtyCount()).toBe(64);
  });

  it('sees adds made on the main thread', async () => {
    filter.add('main-thread-only 🙂');
    expect([...(await pool.checkPacked(packIds(['main-thread-only 🙂'])))]).toEqual([1]);
  });

  it('checkPacked keeps input order across the split', async () => {
    // Members and non-members interleaved; 3 threads -> 3 parts.
    const ids = Array.from({ length: 3 * SPLIT_THRESHOLD_IDS + 5 }, (_, i) => (i % 2 === 0 ? sku(i / 2) : `absent-${i}`));
    const result = await pool.checkPacked(packIds(ids));
    expect(result.length).toBe(ids.length);
    const expected = Uint8Array.from(ids, (id) => (filter.has(id) ? 1 : 0));
    expect(Buffer.from(result).equals(Buffer.from(expected))).toBe(true);
    for (let i = 0; i < ids.length; i += 2) expect(result[i]).toBe(1);
    expect(result.reduce((sum, bit) => sum + bit, 0)).toBeLessThan(ids.length / 2 + ids.length / 100);
  });

  it('leaves the caller its buffer (workers get copies)', async () => {
    const small = packIds(['a', 'b']);
    const large = packIds(Array.from({ length: 2 * SPLIT_THRESHOLD_IDS }, (_, i) => sku(i)));
    await pool.checkPacked(small);
    await pool.addPacked(large);
    await pool.checkPacked(Buffer.from(small)); // a Buffer, maybe on the shared pool
    expect(small.byteLength).toBeGreaterThan(0);
    expect(large.byteLength).toBeGreaterThan(0);
  });

  it('handles empty batches without a worker', async () => {
    expect(await pool.addPacked(packIds([]))).toBe(0);
    expect((await pool.checkPacked(packIds([]))).length).toBe(0);
  });

  it('rejects malformed batches with a RangeError, small or split', async () => {
    const small = packIds(['abc', 'def']);
    await expect(pool.addPacked(small.subarray(0, small.length - 1))).rejects.toThrow(/^packed ids are malformed: packed ids are truncated/);
    await expect(pool.checkPacked(small.subarray(0, small.length - 1))).rejects.toThrow(RangeError);
    const large = packIds(Array.from({ length: 2 * SPLIT_THRESHOLD_IDS }, (_, i) => sku(i)));
    await expect(pool.addPacked(large.subarray(0, large.length - 1))).rejects.toThrow(RangeError);
  });

  it('reports stats', () => {
    const stats = pool.stats();
    expect(stats.threads).toBe(3);
    expect(stats.queueSize).toBe(0);
    expect(stats.completed).toBeGreaterThan(0);
    expect(stats.utilization).toBeGreaterThanOrEqual(0);
  });

  it('validates options, naming each one', () => {
    const bad = (options: unknown) => () => new FilterPool(options as FilterPoolOptions);
    expect(bad({ filter, threads: 0 })).toThrow(new TypeError('options.threads must be a positive integer'));
    expect(bad({ filter, threads: 1.5 })).toThrow('options.threads must be a positive integer');
    expect(bad({ filter })).toThrow('options.threads must be a positive integer');
    expect(bad({ filter: {}, threads: 1 })).toThrow('options.filter must be a BloomFilter');
    expect(bad({ threads: -1 })).toThrow('options.filter must be a BloomFilter; options.threads must be a positive integer');
    expect(bad(undefined)).toThrow('options must be an object');
  });

  it('close() resolves, is idempotent, and later calls reject', async () => {
    const other = new FilterPool({ filter, threads: 1 });
    expect(await other.addPacked(packIds(['x']))).toBe(1);
    await expect(other.close()).resolves.toBeUndefined();
    await expect(other.close()).resolves.toBeUndefined();
    await expect(other.addPacked(packIds(['y']))).rejects.toThrow('the filter pool is closed');
  });
});
