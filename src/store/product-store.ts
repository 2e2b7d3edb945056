/**
 * The source of truth, behind one asynchronous interface with one file per
 * backend (SQLite, the embedded default; PostgreSQL, selected by DATABASE_URL).
 * The lookup guard, the writer, the filter loader, the online rebuild and the
 * audit use only this interface (or the few methods of it they need).
 *
 * Positions. Every committed row has a `position` in the database's commit
 * order, and the snapshot watermark is a position: "every row at a position
 * below W is in the filter", so a restore replays `idsFrom(W)`.
 *   - SQLite: the rowid (AUTOINCREMENT, one writer, so rowid order is commit order).
 *   - PostgreSQL: the inserting transaction's id (`pg_current_xact_id()`).
 *     Sequence values are handed out at insert and committed in any order, so a
 *     sequence is NOT a commit order; `horizon()` is the oldest transaction
 *     still in progress (`pg_snapshot_xmin(pg_current_snapshot())`), below which
 *     nothing can commit any more.
 *
 * Failures. A backend that cannot reach its database within its timeout
 * rejects with DatabaseUnavailableError (src/errors.ts), never hangs, and
 * recovers by itself when the database returns.
 *
 * @example
 *   const created = await store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // { id, position } or null
 *   for await (const ids of store.idsFrom(watermark, 10_000)) for (const id of ids) filter.add(id);
 */
import type { Product } from '../product.js';

export type { Product } from '../product.js';

export interface StoredProduct extends Product {
  /** When the row was inserted, in ms since the epoch. */
  readonly createdAt: number;
}

/** A point in the database's commit order (see the module comment). */
export type Position = number;

export interface CreatedRow {
  readonly id: string;
  readonly position: Position;
}

export interface BatchInsertResult {
  /** In commit order. */
  readonly created: readonly CreatedRow[];
  /** Ids that existed already, and duplicates inside the batch after the first. */
  readonly conflicts: readonly string[];
}

export interface ProductStore {
  readonly backend: 'sqlite' | 'postgres';

  get(id: string): Promise<StoredProduct | undefined>;
  /** Commits one product durably; null when the id exists (no throw for the conflict). */
  insert(product: Product): Promise<CreatedRow | null>;
  /** One transaction for all (all or nothing). */
  insertMany(products: readonly Product[]): Promise<BatchInsertResult>;
  /** Removes the row; true if it existed. */
  delete(id: string): Promise<boolean>;
  /**
   * Replaces the name and price of an existing row, durably; false when the id
   * does not exist (nothing written). The row keeps its id, position and
   * creation time: the filter and the watermark need nothing.
   */
  update(product: Product): Promise<boolean>;
  count(): Promise<number>;

  /** Every id, in pages of at most `pageSize` (none empty). Rows committed during the scan may or may not appear. */
  scanIds(pageSize: number): AsyncIterable<readonly string[]>;
  /** Ids of rows at a position >= `from`, in pages (the replay after a restore). */
  idsFrom(from: Position, pageSize: number): AsyncIterable<readonly string[]>;
  /** Every row that commits from now on gets a position >= this; every row below it is committed and visible. */
  horizon(): Promise<Position>;
  /**
   * Above every position this database has handed out: no row, committed or
   * not, has a position >= this (SQLite: the horizon; PostgreSQL: the next xid,
   * `pg_snapshot_xmax`). A snapshot's watermark above it cannot be of this
   * database's present (see src/persistence/snapshot-origin.ts).
   */
  nextPosition(): Promise<Position>;
  /** The id of the row with the greatest position below `position` (a snapshot's origin check), if any. */
  lastIdBefore(position: Position): Promise<string | undefined>;

  /**
   * The first-start import of PRODUCTS_FILE: ids already validated and
   * de-duplicated by the caller, stored as `Product <id>` at price 0, in ONE
   * transaction (all or nothing; SQLite: one write transaction, PostgreSQL: COPY).
   * Imports nothing and returns null when the table is not empty (checked inside
   * the transaction, so two starting processes import once).
   */
  importIds(ids: readonly string[]): Promise<{ readonly imported: number } | null>;

  /** This database's identity: a random UUID made on first use and kept in the database (so in its backups too). */
  databaseId(): Promise<string>;
  setting(key: string): Promise<string | undefined>;
  /** Stores a setting unless one exists; returns the value now stored (first writer wins). */
  initSetting(key: string, value: string): Promise<string>;
  putSetting(key: string, value: string): Promise<void>;

  /**
   * Claims this database + namespace for this process until close(); rejects
   * with InstanceLockedError when another live process holds it. Two processes
   * with separate filters on one database disagree (a create through one is
   * rejected by the other) until the cluster protocol makes that safe, so the
   * second must refuse to start rather than serve. A holder that died (kill -9)
   * must not block a restart: SQLite checks the holder's pid on this host,
   * PostgreSQL uses a session advisory lock that dies with its connection.
   */
  lockInstance(namespace: string): Promise<void>;

  close(): Promise<void>;
}
