import { describe, expect, it } from 'vitest';
import {
  computeFilterParams,
  estimateFpr,
  MAX_SHARD_BITS,
  SHARD_BIT_ALIGNMENT,
  SIZING_HEADROOM,
} from '../../src/filter/sizing.js';

describe('computeFilterParams', () => {
  it('gives the textbook m = 9,585,059 and k = 7 for the defaults, then more bits to meet p with k = 7', () => {
    const params = computeFilterParams(1_000_000, 0.01, 64);
    expect(params.nominalBits).toBe(9_585_059);
    expect(params.hashes).toBe(7);
    // At the nominal m, k = 7 misses the target: that is why bits are added.
    expect(estimateFpr(params.nominalBits, 7, 1_000_000)).toBeGreaterThan(0.01);
    expect(params.shardBits).toBe(151_552);
    expect(params.totalBits).toBe(64 * 151_552);
    expect(estimateFpr(params.totalBits, params.hashes, 1_000_000)).toBeLessThanOrEqual(0.01 * SIZING_HEADROOM);
  });

  it.each([
    [1000, 0.001, 1, 14_378, 10],
    [500_000, 0.05, 16, 3_117_613, 4],
    [10_000_000, 0.001, 256, 143_775_876, 10],
    [1, 0.5, 1, 2, 1],
  ])('sizes n=%d p=%d shards=%d by the formulas', (n, p, shards, nominal, k) => {
    const params = computeFilterParams(n, p, shards);
    expect(params.nominalBits).toBe(nominal);
    expect(params.nominalBits).toBe(Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2));
    expect(params.hashes).toBe(k);
    expect(params.hashes).toBe(Math.max(1, Math.round((nominal / n) * Math.LN2)));
    const needed = Math.ceil((-k * n) / Math.log(1 - (p * SIZING_HEADROOM) ** (1 / k)));
    const bits = Math.max(nominal, needed);
    expect(params.shardBits % SHARD_BIT_ALIGNMENT).toBe(0);
    expect(params.shardBits).toBeGreaterThanOrEqual(bits / shards);
    expect(params.shardBits - SHARD_BIT_ALIGNMENT).toBeLessThan(Math.ceil(bits / shards));
    expect(params.totalBits).toBe(shards * params.shardBits);
    expect(estimateFpr(params.totalBits, params.hashes, n)).toBeLessThanOrEqual(p);
  });

  it('returns frozen params', () => {
    expect(Object.isFrozen(computeFilterParams(100, 0.01, 2))).toBe(true);
  });

  it('names each bad argument, all at once', () => {
    expect(() => computeFilterParams(0, 0.01, 64)).toThrow(new RangeError('capacity must be an integer from 1 to 500000000 (got 0)'));
    expect(() => computeFilterParams(1.5, 0.01, 64)).toThrow(/^capacity must be an integer from 1 to 500000000/);
    expect(() => computeFilterParams(500_000_001, 0.01, 64)).toThrow(/^capacity must be/);
    expect(() => computeFilterParams(100, 0, 64)).toThrow('targetFpr must be a number greater than 0 and less than 1 (got 0)');
    expect(() => computeFilterParams(100, 1, 64)).toThrow(/targetFpr must be/);
    expect(() => computeFilterParams(100, Number.NaN, 64)).toThrow(/targetFpr must be/);
    expect(() => computeFilterParams(100, 0.01, 0)).toThrow('shards must be an integer from 1 to 4096 (got 0)');
    expect(() => computeFilterParams(100, 0.01, 4097)).toThrow(/shards must be/);
    expect(() => computeFilterParams(0, 2, 0)).toThrow(
      'capacity must be an integer from 1 to 500000000 (got 0); targetFpr must be a number greater than 0 and less than 1 (got 2); shards must be an integer from 1 to 4096 (got 0)',
    );
  });

  it('refuses a shard too large to address, and says to use more shards', () => {
    expect(() => computeFilterParams(500_000_000, 0.0001, 1)).toThrow(
      new RegExp(`bits per shard with 1 shards, over the ${MAX_SHARD_BITS} limit; use more shards`),
    );
    expect(computeFilterParams(500_000_000, 0.0001, 64).shardBits).toBeLessThanOrEqual(MAX_SHARD_BITS);
  });
});

describe('estimateFpr', () => {
  it('is (1 - e^(-k*items/m))^k', () => {
    expect(estimateFpr(1000, 3, 0)).toBe(0);
    expect(estimateFpr(1000, 3, 100)).toBeCloseTo((1 - Math.exp(-0.3)) ** 3, 15);
    expect(estimateFpr(9_585_059, 7, 1_000_000)).toBeCloseTo(0.010039, 6);
  });
});
