/**
 * The SQLite file format of sqlite-product-store.ts + workers/sqlite-writer.ts:
 * the version-1 schema earlier releases wrote (their synchronous store), plus
 * `instance_locks`, created if missing, so files written before open as they
 * are and stay readable as version 1 (no version bump, no migration; see
 * test/store/sqlite-product-store.test.ts).
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
