/**
 * The filter's state as numbers, computed in one place for the metrics scrape
 * and the `/bloom/stats` report. Counting set bits walks the whole array
 * (about 1 ms per million items), so call it per scrape or request, not per lookup.
 *
 * @example
 *   const { fillRatio, estimatedFpr } = filterGauges(active.filter);
 */
import type { BloomFilter } from './bloom-filter.js';
import { estimateFpr } from './sizing.js';

export interface FilterGauges {
  /** Ids added (equals the database row count once loaded). */
  readonly items: number;
  readonly capacity: number;
  readonly bits: number;
  /** Share of bits set (0-1). */
  readonly fillRatio: number;
  /** The false-positive rate the item count implies. */
  readonly estimatedFpr: number;
  readonly targetFpr: number;
  /** Deleted ids whose bits remain set. */
  readonly staleItems: number;
}

export function filterGauges(filter: Pick<BloomFilter, 'layout' | 'items' | 'stale' | 'countSetBits'>): FilterGauges {
  const p = filter.layout.params;
  const items = filter.items;
  return {
    items,
    capacity: p.capacity,
    bits: p.totalBits,
    fillRatio: filter.countSetBits() / p.totalBits,
    estimatedFpr: estimateFpr(p.totalBits, p.hashes, items),
    targetFpr: p.targetFpr,
    staleItems: filter.stale,
  };
}
