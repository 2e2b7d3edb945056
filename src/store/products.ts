import { randomUUID } from 'node:crypto';
/**
 * The product table in SQLite: the source of truth. The Bloom filter and the
 * Redis cache are both derived from it and can always be rebuilt from it.
 *
 * Schema (PRAGMA user_version = 1):
 * ```sql
 * products(seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- the rowid
 *          id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, price REAL NOT NULL,
 *          created_at INTEGER NOT NULL)              -- ms since the epoch
 * products_meta(k = 0, product_count)                 -- one row, kept by triggers
 * ```
 * The rowid is the filter snapshot's watermark: a snapshot at watermark W holds
 * every id with rowid <= W, and catching up reads `idsAfter(W)`. That is only
 * sound if a new row can never get a rowid <= W, so the rowid is AUTOINCREMENT:
 * plain rowids reuse the largest value after that row is deleted, and the
 * reused id would be missed by the catch-up (a false negative).
 *
 * `count()` reads a counter kept by triggers (about 2 us): `count(*)` scans the
 * id index, about 8 ms per million rows (measured), too much for a health or
 * metrics call on the event loop. The triggers cost about 0.8 s per million
 * inserts, which only the one-off file import notices.
 *
 * @example
 *   const store = ProductStore.open({ path: 'data/products.db', synchronous: 'full' });
 *   store.insert({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // 1 (its rowid), or null if SKU-1 exists
 *   store.get('SKU-1');                                       // { id, name, price, rowid: 1, createdAt }
 *   for (const { ids, lastRowid } of store.idsAfter(0, 10_000)) filter.addAll(ids);
 *   store.close();
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Product } from '../product.js';

export type { Product } from '../product.js';

export interface StoredProduct extends Product {
  readonly rowid: number;
  /** When the row was inserted, in ms since the epoch. */
  readonly createdAt: number;
}

export interface ProductStoreOptions {
  /** The database file; its parent directory is created. `:memory:` works for tests. */
  readonly path: string;
  readonly synchronous: 'full' | 'normal';
}

export interface BatchInsertResult {
  readonly created: { id: string; rowid: number }[];
  readonly conflicts: string[];
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS products (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  price REAL NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS products_meta (
  k INTEGER PRIMARY KEY CHECK (k = 0),
  product_count INTEGER NOT NULL
);
INSERT OR IGNORE INTO products_meta (k, product_count) SELECT 0, count(*) FROM products;
CREATE TRIGGER IF NOT EXISTS products_count_insert AFTER INSERT ON products
BEGIN UPDATE products_meta SET product_count = product_count + 1 WHERE k = 0; END;
CREATE TRIGGER IF NOT EXISTS products_count_delete AFTER DELETE ON products
BEGIN UPDATE products_meta SET product_count = product_count - 1 WHERE k = 0; END;
-- Service settings that must outlive Redis, e.g. the generated hash seed.
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
PRAGMA user_version = ${SCHEMA_VERSION};
`;

interface ProductRow {
  rowid: number;
  id: string;
  name: string;
  price: number;
  created_at: number;
}

export class ProductStore {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement<[string, string, number, number]>;
  private readonly getStmt: Database.Statement<[string], ProductRow>;
  private readonly deleteStmt: Database.Statement<[string]>;
  private readonly countStmt: Database.Statement<[], number>;
  private readonly maxRowidStmt: Database.Statement<[], number | null>;
  private readonly pageStmt: Database.Statement<[number, number], [number, string]>;
  private readonly insertAll: (products: readonly Product[]) => BatchInsertResult;

  private constructor(db: Database.Database) {
    this.db = db;
    // DO NOTHING turns a duplicate id into changes === 0 instead of an exception.
    this.insertStmt = db.prepare('INSERT INTO products (id, name, price, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.getStmt = db.prepare('SELECT rowid AS rowid, id, name, price, created_at FROM products WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM products WHERE id = ?');
    this.countStmt = db.prepare<[], number>('SELECT product_count FROM products_meta WHERE k = 0').pluck();
    this.maxRowidStmt = db.prepare<[], number | null>('SELECT max(rowid) FROM products').pluck();
    this.pageStmt = db.prepare<[number, number], [number, string]>('SELECT rowid, id FROM products WHERE rowid > ? ORDER BY rowid LIMIT ?').raw();
    this.insertAll = db.transaction((products: readonly Product[]) => {
      const created: { id: string; rowid: number }[] = [];
      const conflicts: string[] = [];
      const now = Date.now();
      for (const p of products) {
        const info = this.insertStmt.run(p.id, p.name, p.price, now);
        if (info.changes === 1) created.push({ id: p.id, rowid: Number(info.lastInsertRowid) });
        else conflicts.push(p.id);
      }
      return { created, conflicts };
    });
  }

  /** Opens (creating if needed) the database file, its parent directory and the schema. */
  static open(options: ProductStoreOptions): ProductStore {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    try {
      // WAL: readers never block the writer, and a commit is one sequential append.
      db.pragma('journal_mode = WAL');
      // FULL fsyncs the WAL on every commit. NORMAL in WAL mode still survives a
      // process crash but may lose the last commits on power loss, and a 201
      // promises the product is durable, so FULL is the default.
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma('busy_timeout = 5000');
      // 64 MiB of page cache (the default is 2 MiB) holds the id index of about
      // a million ids, so lookups and random-order inserts stay off the disk;
      // the first-start import of 1M random ids ran twice as fast with it.
      db.pragma('cache_size = -65536');
      // A big import grows the WAL to the size of the table; shrink it back after checkpoints.
      db.pragma('journal_size_limit = 67108864');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== 0 && version !== SCHEMA_VERSION) {
        throw new Error(`${options.path} has schema version ${version}; this build knows version ${SCHEMA_VERSION}`);
      }
      db.transaction(() => db.exec(SCHEMA))();
      return new ProductStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** A stored setting, or undefined. */
  setting(key: string): string | undefined {
    const row = this.db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck().get(key);
    return row ?? undefined;
  }

  /** This database's identity: a random UUID made on first use, kept in the file (so in its backups too). */
  databaseId(): string {
    return this.initSetting('database_id', randomUUID());
  }

  /** The id stored at a rowid, if that row exists. */
  idAt(rowid: number): string | undefined {
    return this.db.prepare<[number], string>('SELECT id FROM products WHERE rowid = ?').pluck().get(rowid);
  }

  /** Stores a setting unless one exists; returns the value now stored (first writer wins). */
  initSetting(key: string, value: string): string {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
    return this.setting(key) ?? value;
  }

  /** Stores a setting, replacing any earlier value. */
  putSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Inserts one product; returns its rowid, or null if the id exists (no throw for the conflict). */
  insert(product: Product): number | null {
    const info = this.insertStmt.run(product.id, product.name, product.price, Date.now());
    return info.changes === 1 ? Number(info.lastInsertRowid) : null;
  }

  /**
   * One transaction for all; existing ids (and duplicates inside the batch after
   * the first) go to conflicts. Callers validate first (src/product.ts).
   */
  insertMany(products: readonly Product[]): BatchInsertResult {
    return this.insertAll(products);
  }

  get(id: string): StoredProduct | undefined {
    const row = this.getStmt.get(id);
    if (row === undefined) return undefined;
    return { id: row.id, name: row.name, price: row.price, rowid: row.rowid, createdAt: row.created_at };
  }

  /** Removes the row; true if it existed. */
  delete(id: string): boolean {
    return this.deleteStmt.run(id).changes === 1;
  }

  count(): number {
    return this.countStmt.get() ?? 0;
  }

  /** The largest rowid in the table; 0 when empty. */
  maxRowid(): number {
    return this.maxRowidStmt.get() ?? 0;
  }

  /**
   * Streams ids with rowid > afterRowid, ascending, in chunks of at most
   * `chunkSize` (the last may be shorter; none is empty).
   *
   * Each chunk is its own keyset query (`rowid > last LIMIT n`) rather than one
   * open `iterate()` cursor: better-sqlite3 refuses every other statement on the
   * connection while a cursor is open, so a consumer that awaits between chunks
   * would make concurrent inserts throw. Rows inserted during the scan show up
   * in later chunks, since rowids only grow.
   */
  idsAfter(afterRowid: number, chunkSize: number): IterableIterator<{ ids: string[]; lastRowid: number }> {
    if (!Number.isSafeInteger(afterRowid) || afterRowid < 0) {
      throw new RangeError(`afterRowid must be a non-negative integer, got ${afterRowid}`);
    }
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
      throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
    }
    return this.pages(afterRowid, chunkSize);
  }

  private *pages(afterRowid: number, chunkSize: number): IterableIterator<{ ids: string[]; lastRowid: number }> {
    let last = afterRowid;
    for (;;) {
      const rows = this.pageStmt.all(last, chunkSize);
      const lastRow = rows[rows.length - 1];
      if (lastRow === undefined) return;
      last = lastRow[0];
      yield { ids: rows.map((r) => r[1]), lastRowid: last };
      if (rows.length < chunkSize) return;
    }
  }

  /**
   * Runs `fn` in one transaction (a savepoint when nested) and returns its
   * result; anything `fn` throws rolls it all back. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** The PRAGMA values in force, for tests and the health report. */
  pragmas(): { journalMode: string; synchronous: 'full' | 'normal' | 'off' | 'extra' } {
    const journalMode = String(this.db.pragma('journal_mode', { simple: true }));
    const level = Number(this.db.pragma('synchronous', { simple: true }));
    const synchronous = (['off', 'normal', 'full', 'extra'] as const)[level] ?? 'full';
    return { journalMode, synchronous };
  }

  /** Closes the database (checkpointing the WAL). Safe to call twice. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}
