/**
 * The first-start import of ROWS ids on both backends, in one run (issue 10's
 * target: PostgreSQL <= 2x SQLite). Same ids (`SKU-%08d`, shuffled with a fixed
 * seed) for both, each into an empty store, one transaction each:
 *   - SQLite: `SqliteProductStore.importIds` (src/store/sqlite-product-store.ts),
 *     synchronous=FULL, one write transaction on its writer thread;
 *   - PostgreSQL: `PostgresProductStore.importIds` (COPY), in a database of its own.
 * Alternated over ROUNDS, medians printed.
 *
 *   npx tsx load/store-import-bench.ts     # ROWS=1000000 ROUNDS=3 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresProductStore } from '../src/store/postgres-product-store.js';
import type { ProductStore } from '../src/store/product-store.js';
import { SqliteProductStore } from '../src/store/sqlite-product-store.js';
import { existingId } from './products-file.js';
import { createScratchDatabase } from './scratch-database.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

/** A fixed-seed shuffle (xorshift32), so both backends and every run see one order. */
function shuffledIds(n: number): string[] {
  const ids = Array.from({ length: n }, (_, i) => existingId(i));
  let s = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

/** Times `store.importIds(ids)` into the empty store, checks every id landed, and closes the store. */
async function timedImport(store: ProductStore, ids: readonly string[]): Promise<number> {
  try {
    const t = performance.now();
    const result = await store.importIds(ids);
    const ms = performance.now() - t;
    if (result?.imported !== ids.length || (await store.count()) !== ids.length) throw new Error('import incomplete');
    return ms;
  } finally {
    await store.close();
  }
}

async function sqliteImport(ids: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-import-'));
  try {
    return await timedImport(await SqliteProductStore.open({ path: join(dir, 'products.db'), synchronous: 'full' }), ids);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresImport(ids: readonly string[]): Promise<number> {
  const db = await createScratchDatabase();
  try {
    return await timedImport(await PostgresProductStore.open({ url: db.url }), ids);
  } finally {
    await db.drop();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const ids = shuffledIds(ROWS);
const sqlite: number[] = [];
const postgres: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always runs on a warmer machine.
  if (round % 2 === 0) {
    sqlite.push(await sqliteImport(ids));
    postgres.push(await postgresImport(ids));
  } else {
    postgres.push(await postgresImport(ids));
    sqlite.push(await sqliteImport(ids));
  }
}
const fmt = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
console.log(`npx tsx load/store-import-bench.ts  # ROWS=${ROWS} ROUNDS=${ROUNDS}, node ${process.version}`);
console.log(`sqlite   median ${(median(sqlite) / 1000).toFixed(2)} s  (${fmt(sqlite)})`);
console.log(`postgres median ${(median(postgres) / 1000).toFixed(2)} s  (${fmt(postgres)})`);
console.log(`postgres / sqlite = ${(median(postgres) / median(sqlite)).toFixed(2)}x`);
