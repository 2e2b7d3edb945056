/**
 * The PostgreSQL schema, as numbered migrations applied at start in one
 * transaction. Several processes may start at once: each takes the same
 * transaction-scoped advisory lock first, so one migrates and the others wait,
 * then find the version already applied (READ COMMITTED: each statement after
 * the lock sees what the first committed). CREATE TABLE IF NOT EXISTS alone is
 * not enough: two concurrent creates can both pass the check and one fails on
 * the catalog's unique index.
 *
 * Schema (version 1):
 * ```sql
 * products(seq bigint identity, id text COLLATE "C" PRIMARY KEY, name text, price float8,
 *          created_at timestamptz, xid xid8 DEFAULT pg_current_xact_id())   -- xid: the position
 * INDEX products_xid_seq ON products (xid, seq)                             -- the replay, keyset
 * product_count_deltas(delta bigint)   -- count(): sum of per-statement deltas, compacted now and then
 * settings(key text PRIMARY KEY, value text)
 * schema_migrations(version int PRIMARY KEY, applied_at timestamptz)
 * ```
 */
import type { PoolClient } from 'pg';

/** Advisory lock keys (two-int form: class, object). The class is "bloo" in ASCII. */
export const LOCK_CLASS = 0x626c6f6f;
export const MIGRATION_LOCK = 1;
export const IMPORT_LOCK = 2;
/** The class of instance locks; the object is hashtext(namespace). */
export const INSTANCE_LOCK_CLASS = 0x626c6f70;

const MIGRATIONS: readonly string[] = [
  // 1: products, the count and the settings.
  `
  CREATE TABLE products (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    id text COLLATE "C" NOT NULL PRIMARY KEY,
    name text NOT NULL,
    price double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id()
  );
  CREATE INDEX products_xid_seq ON products (xid, seq);

  -- count() must equal the row count exactly (the filter's items) and be cheap:
  -- count(*) reads the whole table or id index (76-104 ms per million rows,
  -- measured here), the sum of up to 1000 delta rows 0.1-0.4 ms. One counter
  -- row updated by every insert would be a lock held to commit by every writer,
  -- serialising concurrent creates; so each statement appends its delta (no
  -- contention) and count() sums them, compacting the rows now and then.
  CREATE TABLE product_count_deltas (delta bigint NOT NULL);
  CREATE FUNCTION product_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO product_count_deltas (delta) SELECT count(*) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
  END $$;
  CREATE FUNCTION product_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO product_count_deltas (delta) SELECT -count(*) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
  END $$;
  CREATE TRIGGER products_count_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_count_inserted();
  CREATE TRIGGER products_count_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_count_deleted();
  -- TRUNCATE bypasses row triggers; keep the count right if an operator uses it.
  CREATE FUNCTION product_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM product_count_deltas;
    RETURN NULL;
  END $$;
  CREATE TRIGGER products_count_truncate AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION product_count_truncated();

  -- Service settings that must outlive Redis: the database id, the hash seed.
  CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION on `client` (which must not be in a
 * transaction). Throws when the database is newer than this build.
 */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(`the database has schema version ${current}; this build knows version ${SCHEMA_VERSION}`);
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
