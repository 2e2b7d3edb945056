/**
 * Streams the ids of database rows into the filter: pages are read on the main
 * thread and hashed in the worker pool, with a bounded number of pages in
 * flight so reading and hashing overlap without buffering the whole table.
 * Used by the start-up load (replay above a watermark, rebuild) and by the
 * online rebuild.
 *
 * @example
 *   const added = await addRowsThroughPool(products, pool, watermark, { pageIds: 32_768, maxInFlight: 8, inlineFilter: filter });
 */
import type { BloomFilter } from '../filter/bloom-filter.js';
import { packIds } from '../filter/id-batch.js';
import type { FilterPool } from '../filter/pool.js';
import type { ProductStore } from '../store/products.js';

export interface AddRowsOptions {
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

/** Adds every id with rowid > afterRowid; resolves with how many. */
export async function addRowsThroughPool(
  products: Pick<ProductStore, 'idsAfter'>,
  pool: Pick<FilterPool, 'addPacked'>,
  afterRowid: number,
  options: AddRowsOptions,
): Promise<number> {
  let added = 0;
  const inFlight: Promise<number>[] = [];
  for (const { ids } of products.idsAfter(afterRowid, options.pageIds)) {
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
  await Promise.all(inFlight);
  return added;
}
