/**
 * The SQLite file format shared by the synchronous store (products.ts) and the
 * asynchronous one (sqlite-product-store.ts + workers/sqlite-writer.ts): one
 * file opens with either. Kept identical to products.ts's schema (version 1)
 * plus `instance_locks`, a table the old store ignores, so a file written by
 * the new store still opens with the old one (no version bump, no migration).
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
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
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS instance_locks (
  namespace TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** The insert trigger, re-created after an import that dropped it (see the writer's import). */
export const INSERT_COUNT_TRIGGER = `CREATE TRIGGER products_count_insert AFTER INSERT ON products
BEGIN UPDATE products_meta SET product_count = product_count + 1 WHERE k = 0; END`;
