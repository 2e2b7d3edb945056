/**
 * Bloom filter sizing: pure maths, no state.
 *
 * @example
 *   const params = computeFilterParams(1_000_000, 0.01, 64);
 *   params.nominalBits; // 9_585_059
 *   params.hashes;      // 7
 *   params.totalBits;   // 9_699_328 (64 shards of 151_552 bits)
 *   estimateFpr(params.totalBits, params.hashes, 1_000_000); // ≈ 0.00949
 */

export interface FilterParams {
  /** The number of items the filter is sized for (n). */
  readonly capacity: number;
  /** The false-positive rate wanted at `capacity` items (p). */
  readonly targetFpr: number;
  /** The textbook optimum m = ceil(-n*ln(p)/(ln 2)^2), before k is rounded. */
  readonly nominalBits: number;
  /** k = round((m/n)*ln 2), at least 1. */
  readonly hashes: number;
  readonly shards: number;
  /** Bits per shard used for positions: a multiple of 512 (one 64-byte cache line). */
  readonly shardBits: number;
  /** shards * shardBits: what is allocated and reported as `bits`. */
  readonly totalBits: number;
}

/** Config bounds BLOOM_CAPACITY to this; it also keeps the Int32 item count far from overflow. */
export const MAX_CAPACITY = 500_000_000;
export const MAX_SHARDS = 4096;
/** Bits in one 64-byte cache line: every shard is a whole number of lines. */
export const SHARD_BIT_ALIGNMENT = 512;
/** Positions are computed with `pos >>> 5`, so a shard must stay well inside uint32. */
export const MAX_SHARD_BITS = 2 ** 31;
/**
 * The filter is sized for targetFpr * SIZING_HEADROOM, so the rate measured at
 * capacity stays under targetFpr with margin, not just on average.
 */
export const SIZING_HEADROOM = 0.95;

/**
 * Computes m, k and the sharded bit count for `capacity` items at `targetFpr`.
 * Throws a RangeError naming every bad argument at once.
 */
export function computeFilterParams(capacity: number, targetFpr: number, shards: number): FilterParams {
  const problems: string[] = [];
  if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    problems.push(`capacity must be an integer from 1 to ${MAX_CAPACITY} (got ${String(capacity)})`);
  }
  if (typeof targetFpr !== 'number' || !(targetFpr > 0 && targetFpr < 1)) {
    problems.push(`targetFpr must be a number greater than 0 and less than 1 (got ${String(targetFpr)})`);
  }
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    problems.push(`shards must be an integer from 1 to ${MAX_SHARDS} (got ${String(shards)})`);
  }
  if (problems.length > 0) throw new RangeError(problems.join('; '));

  const n = capacity;
  const p = targetFpr;
  // Textbook optimum: m = ceil(-n*ln(p) / (ln 2)^2), k = round((m/n) * ln 2).
  // Defaults n = 1e6, p = 0.01: m = 9,585,059 bits, k = round(6.64) = 7.
  const nominalBits = Math.ceil((-n * Math.log(p)) / (Math.LN2 * Math.LN2));
  const hashes = Math.max(1, Math.round((nominalBits / n) * Math.LN2));
  // Rounding k away from the real-valued optimum makes the nominal m miss p:
  // for the defaults (1 - e^(-7n/m))^7 ≈ 1.0037% > 1%. So, with k fixed, take
  // the smallest m that meets p: solving (1 - e^(-kn/m))^k = p for m gives
  // m_needed = ceil(-k*n / ln(1 - p^(1/k))) (9,592,955 for the defaults).
  // That m meets p only on average: a measured rate then lands above p about
  // half the time (1M probes at p = 1% have a standard error of ~1% of p).
  // So m_needed is solved for p * SIZING_HEADROOM instead: 9,696,791 for the
  // defaults, ~1% more memory for an expected rate ~5% under the target.
  const neededBits = Math.ceil((-hashes * n) / Math.log(1 - (p * SIZING_HEADROOM) ** (1 / hashes)));
  const bits = Math.max(nominalBits, neededBits);
  // Each shard is rounded up to whole 64-byte cache lines, so two threads adding
  // to neighbouring shards never write the same line. Defaults: 64 shards of
  // ceil(9,696,791 / 64) = 151,513 -> 151,552 bits, 9,699,328 in all (≈ 0.949%).
  const shardBits = Math.ceil(Math.ceil(bits / shards) / SHARD_BIT_ALIGNMENT) * SHARD_BIT_ALIGNMENT;
  if (shardBits > MAX_SHARD_BITS) {
    throw new RangeError(
      `capacity ${n} at targetFpr ${p} needs ${shardBits} bits per shard with ${shards} shards, over the ${MAX_SHARD_BITS} limit; use more shards`,
    );
  }
  return Object.freeze({
    capacity: n,
    targetFpr: p,
    nominalBits,
    hashes,
    shards,
    shardBits,
    totalBits: shards * shardBits,
  });
}

/** The expected false-positive rate (1 - e^(-k*items/m))^k of m bits and k hashes holding `items`. */
export function estimateFpr(totalBits: number, hashes: number, items: number): number {
  return (1 - Math.exp((-hashes * items) / totalBits)) ** hashes;
}
