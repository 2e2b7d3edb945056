/**
 * Direct access to the service's SQLite file from a test, while the service is
 * STOPPED: counting what a crash left behind, and adding rows behind the
 * service's back (the schema's triggers keep products_meta in step).
 *
 * Counting works on a copy of the database and its WAL, so a test never
 * checkpoints or "repairs" the files the next start must recover by itself.
 *
 * @example
 *   const { rows, metaCount, maxSeq } = inspectDatabase(server.dbPath);
 *   insertProducts(server.dbPath, ['NEW-1', 'NEW-2']);
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA } from '../../src/store/sqlite-schema.js';

export interface DatabaseSummary {
  /** SELECT count(*) FROM products */
  readonly rows: number;
  /** products_meta.product_count (kept by triggers); null if the table is missing. */
  readonly metaCount: number | null;
  /** The largest seq (rowid); 0 when empty. */
  readonly maxSeq: number;
}

/** Runs `fn` on a read-only copy of the database (and its -wal, if any). */
export function withDatabaseCopy<T>(dbPath: string, fn: (db: Database.Database) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-dbcopy-'));
  try {
    const copy = join(dir, 'copy.db');
    if (!existsSync(dbPath)) throw new Error(`${dbPath} does not exist`);
    copyFileSync(dbPath, copy);
    if (existsSync(`${dbPath}-wal`)) copyFileSync(`${dbPath}-wal`, `${copy}-wal`);
    // Not readonly: replaying a copied WAL needs to write the copy's -shm.
    const db = new Database(copy);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function inspectDatabase(dbPath: string): DatabaseSummary {
  return withDatabaseCopy(dbPath, (db) => {
    const hasProducts = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'products'").pluck().get() === 1;
    if (!hasProducts) return { rows: 0, metaCount: null, maxSeq: 0 };
    const rows = db.prepare('SELECT count(*) FROM products').pluck().get() as number;
    const maxSeq = (db.prepare('SELECT max(seq) FROM products').pluck().get() as number | null) ?? 0;
    let metaCount: number | null = null;
    try {
      metaCount = (db.prepare('SELECT product_count FROM products_meta WHERE k = 0').pluck().get() as number | undefined) ?? null;
    } catch {
      metaCount = null;
    }
    return { rows, metaCount, maxSeq };
  });
}

/** Every id in the database, in seq order (from a copy). */
export function allIds(dbPath: string): string[] {
  return withDatabaseCopy(dbPath, (db) => db.prepare('SELECT id FROM products ORDER BY seq').pluck().all() as string[]);
}

/** Creates the service's SQLite schema in a new (or existing) file, as the service would at start. */
export function createSchema(dbPath: string): void {
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
  } finally {
    db.close();
  }
}

/** Inserts products in one transaction, as a second writer would (the service must be stopped). */
export function insertProducts(dbPath: string, ids: readonly string[]): void {
  const db = new Database(dbPath);
  try {
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare('INSERT INTO products (id, name, price, created_at) VALUES (?, ?, ?, ?)');
    const now = Date.now();
    db.transaction(() => {
      for (const id of ids) insert.run(id, `Direct ${id}`, 1.5, now);
    })();
  } finally {
    db.close();
  }
}
