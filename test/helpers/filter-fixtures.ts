/** Deterministic building blocks for the filter tests: ids, seeds, a PRNG and filters. */
import { BloomFilter } from '../../src/filter/bloom-filter.js';
import { allocateFilterBuffer, createLayout } from '../../src/filter/layout.js';
import { computeFilterParams } from '../../src/filter/sizing.js';

export { sku } from './ids.js';

/** The hash seed of every test filter, fixed so statistical tests cannot flake. */
export const TEST_SEED = 0x5eed1234;

export function createFilter(capacity: number, targetFpr = 0.01, shards = 64, seed = TEST_SEED): BloomFilter {
  const layout = createLayout(computeFilterParams(capacity, targetFpr, shards), seed);
  return new BloomFilter(allocateFilterBuffer(layout), layout);
}

/** The filter's bit array (a view). */
export function bitsOf(filter: BloomFilter): Buffer {
  return Buffer.from(filter.buffer, filter.layout.bitsByteOffset, filter.layout.params.totalBits / 8);
}

/** mulberry32: a tiny seeded PRNG returning uint32s. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}
