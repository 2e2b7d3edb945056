/**
 * Streams pages of ids from the database into the filter: pages are read on
 * the main thread and hashed in the worker pool, with a bounded number of pages
 * in flight so reading and hashing overlap without buffering the whole table.
 * Used by the start-up load (replay from a watermark, rebuild) and by the
 * online rebuild.
 *
 * @example
 *   const added = await addRowsThroughPool(store.idsFrom(watermark, 32_768), pool, { pageIds: 32_768, maxInFlight: 8, inlineFilter: filter });
 */
import type { BloomFilter } from '../filter/bloom-filter.js';
import { packIds } from '../filter/id-batch.js';
import type { FilterPool } from '../filter/pool.js';

export interface AddRowsOptions {
  /** The page size the pages were requested with (a shorter first page is the only one). */
  readonly pageIds: number;
  readonly maxInFlight: number;
  /**
   * When the rows fit in one short page, add them to this filter directly:
   * hashing a few thousand ids here beats a thread hop (and a worker that may
   * still be starting).
   */
  readonly inlineFilter?: BloomFilter;
  /** Awaited after each page is handed to the pool: yield to requests, or throw to stop. */
  readonly afterPage?: (ids: number) => Promise<void>;
}

/** Adds every id of `pages` (e.g. `store.idsFrom(w, n)` or `store.scanIds(n)`); resolves with how many. */
export async function addRowsThroughPool(
  pages: AsyncIterable<readonly string[]>,
  pool: Pick<FilterPool, 'addPacked'>,
  options: AddRowsOptions,
): Promise<number> {
  let added = 0;
  const inFlight: Promise<number>[] = [];
  try {
    for await (const ids of pages) {
      const onlyPage = added === 0 && ids.length < options.pageIds;
      added += ids.length;
      if (onlyPage && options.inlineFilter !== undefined) {
        for (const id of ids) options.inlineFilter.add(id);
        continue;
      }
      inFlight.push(pool.addPacked(packIds(ids)));
      if (inFlight.length >= options.maxInFlight) await inFlight.shift();
      await options.afterPage?.(ids.length);
    }
  } finally {
    // Never leave pool tasks unobserved (a failing read would make them unhandled rejections).
    await Promise.allSettled(inFlight);
  }
  await Promise.all(inFlight);
  return added;
}
