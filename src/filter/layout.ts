/**
 * The filter's SharedArrayBuffer layout. Every thread maps the same buffer and
 * finds each slot by the names below.
 *
 * ```
 * bytes 0..63        header: 16 Int32 slots (kItemsField, kStaleField, reserved)
 * bytes 64..         one Int32 dirty flag per shard (Int32 index dirtyOffset + s)
 * bitsByteOffset..   the bit array, 64-byte aligned: shard s is Int32 words
 *                    [s*shardWords, (s+1)*shardWords) of the bits view
 * ```
 *
 * The header gets a cache line of its own and the dirty flags start on the
 * next, so counting items never contends with the adders' flag reads. Offsets
 * are relative to the buffer start; V8 page-aligns large backing stores, so
 * they are real cache-line boundaries.
 *
 * @example
 *   const layout = createLayout(computeFilterParams(1_000_000, 0.01, 64), seed);
 *   const filter = new BloomFilter(allocateFilterBuffer(layout), layout);
 */
import type { FilterParams } from './sizing.js';

/** Items added (Int32: capacity is bounded at 5e8, so it cannot overflow before the filter is useless). */
export const kItemsField = 0;
/** Ids known to be in the filter but no longer in the database (a Bloom filter cannot delete). */
export const kStaleField = 1;
/** Slots 2..15 are reserved for later use; they are zero. */
export const kFirstReservedField = 2;
/** Int32 slots in the header: one 64-byte cache line. */
export const kHeaderFieldCount = 16;
export const kCacheLineBytes = 64;
/** The largest value the Int32 counters hold. */
export const kMaxCounter = 0x7fffffff;

export interface FilterLayout {
  readonly params: FilterParams;
  readonly seed: number;
  /** Int32 words per shard (shardBits / 32). */
  readonly shardWords: number;
  /** Int32 index of shard 0's dirty flag. */
  readonly dirtyOffset: number;
  /** Byte offset of the bit array (a multiple of 64). */
  readonly bitsByteOffset: number;
  readonly byteLength: number;
}

/** Places every slot for `params`; `seed` (a uint32) is the hash seed every thread uses. */
export function createLayout(params: FilterParams, seed: number): FilterLayout {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer from 0 to 4294967295 (got ${String(seed)})`);
  }
  if (params.shardBits % 512 !== 0 || params.totalBits !== params.shards * params.shardBits) {
    throw new RangeError('params must come from computeFilterParams (shardBits a multiple of 512, totalBits = shards * shardBits)');
  }
  const shardWords = params.shardBits / 32;
  const dirtyOffset = kHeaderFieldCount;
  const dirtyEndBytes = (dirtyOffset + params.shards) * 4;
  const bitsByteOffset = Math.ceil(dirtyEndBytes / kCacheLineBytes) * kCacheLineBytes;
  return Object.freeze({
    params,
    seed,
    shardWords,
    dirtyOffset,
    bitsByteOffset,
    byteLength: bitsByteOffset + params.shards * shardWords * 4,
  });
}

/** A zeroed buffer of `layout.byteLength` bytes: an empty filter. */
export function allocateFilterBuffer(layout: FilterLayout): SharedArrayBuffer {
  return new SharedArrayBuffer(layout.byteLength);
}
