/**
 * A PostgreSQL database of its own for one benchmark run: created on the
 * server DATABASE_URL names (default: the local maintenance database) and
 * dropped afterwards, so a run never touches another's tables.
 *
 * @example
 *   const db = await createScratchDatabase();
 *   try { await run(db.url); } finally { await db.drop(); }
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs one statement on the maintenance database, on a connection of its own. */
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface ScratchDatabase {
  /** The new database's URL (PG_ADMIN_URL with its name). */
  readonly url: string;
  /** Drops it, closing any session still on it. */
  drop(): Promise<void>;
}

/** Creates `bloomgate_bench_<random>`; rejects when the server does not answer. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `bloomgate_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
