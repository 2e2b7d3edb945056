/**
 * Which database a snapshot describes. Checksums prove the bits are intact, not
 * that they belong to THIS database: a snapshot written for another database
 * (same namespace and HASH_SEED), or for a later state of this one (the
 * database was restored from an older backup and new rows took positions below
 * the snapshot's watermark), would be accepted, and the rows it lacks would
 * never be replayed: false negatives. So a snapshot also records
 *
 *   - the database's identity (a UUID kept in the database, so in its backups), and
 *   - the id of the last row below its watermark position (`lastIdBefore(W)`),
 *
 * and is only trusted when both still match and the watermark is not above the
 * database's next position (a restored backup is behind it: `ahead_of_database`).
 * Not the horizon: on PostgreSQL that is the server-wide oldest running xid,
 * which a long transaction (in any database of the server) holds below an
 * honest watermark, a false alarm and a needless rebuild. The next xid is past
 * every position this database handed out, so an honest watermark (a horizon
 * read earlier) is never above it, while a restored backup's counter is behind
 * the snapshot's. A
 * backup restored and then grown again gets other ids at the same positions,
 * so the row before the watermark tells it apart.
 *
 * Snapshots written before positions (watermark W meant "rowids <= W") are
 * read as "positions < W": the restore replays one extra row, which is safe.
 */
import type { ProductStore } from '../store/product-store.js';

export type OriginMismatch = 'other_database' | 'ahead_of_database' | 'watermark_row_changed';

/** The store methods the origin check reads. */
export type OriginStore = Pick<ProductStore, 'databaseId' | 'lastIdBefore' | 'nextPosition'>;

/** The `origin` value stored beside a snapshot taken at `watermark`. */
export async function snapshotOrigin(products: OriginStore, watermark: number): Promise<string> {
  const [database, id] = await Promise.all([products.databaseId(), products.lastIdBefore(watermark)]);
  return JSON.stringify({ database, watermark, id: id ?? null });
}

/** Null when a snapshot with this origin and watermark may be restored into `products`, else why not. */
export async function originMismatch(products: OriginStore, origin: string | undefined, watermark: number): Promise<OriginMismatch | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(origin ?? '');
  } catch {
    return 'other_database';
  }
  // Any JSON parses (`null`, `5`): only an object can name a database.
  if (typeof parsed !== 'object' || parsed === null) return 'other_database';
  const field = (key: string): unknown => Reflect.get(parsed, key);
  if (field('database') !== (await products.databaseId())) return 'other_database';
  if (watermark > (await products.nextPosition())) return 'ahead_of_database';
  if (field('watermark') !== watermark || field('id') !== ((await products.lastIdBefore(watermark)) ?? null)) return 'watermark_row_changed';
  return null;
}
