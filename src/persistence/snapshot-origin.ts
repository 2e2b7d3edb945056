/**
 * Which database a snapshot describes. Checksums prove the bits are intact, not
 * that they belong to THIS database: a snapshot written for another database
 * (same namespace and HASH_SEED), or for a later state of this one (the file
 * was restored from an older backup and new rows reused rowids below the
 * snapshot's watermark), would be accepted, and the rows it lacks would never
 * be replayed: false negatives. So a snapshot also records
 *
 *   - the database's identity (a UUID kept in the database file), and
 *   - the id stored at its watermark rowid,
 *
 * and is only trusted when both still match and the watermark is not above the
 * database's highest rowid. A backup restored and then grown again gets other
 * ids at the same rowids, so the row at the watermark tells it apart.
 */
import type { ProductStore } from '../store/products.js';

export type OriginMismatch = 'other_database' | 'ahead_of_database' | 'watermark_row_changed';

/** The `origin` value stored beside a snapshot taken at `watermark`. */
export function snapshotOrigin(products: ProductStore, watermark: number): string {
  return JSON.stringify({ database: products.databaseId(), watermark, id: products.idAt(watermark) ?? null });
}

/** Null when a snapshot with this origin and watermark may be restored into `products`, else why not. */
export function originMismatch(products: ProductStore, origin: string | undefined, watermark: number): OriginMismatch | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(origin ?? '');
  } catch {
    return 'other_database';
  }
  // Any JSON parses (`null`, `5`): only an object can name a database.
  if (typeof parsed !== 'object' || parsed === null) return 'other_database';
  const field = (key: string): unknown => Reflect.get(parsed, key);
  if (field('database') !== products.databaseId()) return 'other_database';
  if (watermark > products.maxRowid()) return 'ahead_of_database';
  if (field('watermark') !== watermark || field('id') !== (products.idAt(watermark) ?? null)) return 'watermark_row_changed';
  return null;
}
