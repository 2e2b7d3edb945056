/**
 * PostgreSQL driver comparison for the product store (issue 10): `pg` (with
 * `pg-copy-streams` for COPY) against `postgres` (porsager), in one run, on the
 * schema the store uses. Each driver gets a fresh table and a pool of POOL
 * connections:
 *   - single-row inserts from CONCURRENCY inserters (INSERT .. ON CONFLICT DO NOTHING RETURNING),
 *   - get-by-id from CONCURRENCY readers (prepared statement),
 *   - COPY of COPY_ROWS ids into an empty table (one transaction).
 *
 *   npx tsx load/store-bench.ts     # DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres INSERTS=20000 GETS=100000 COPY_ROWS=1000000 CONCURRENCY=16 POOL=16
 *
 * It creates a database of its own (bloomgate_bench_<hex>) and drops it at the end.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import postgres from 'postgres';
import { createScratchDatabase } from './scratch-database.js';

const INSERTS = Number(process.env.INSERTS ?? 20_000);
const GETS = Number(process.env.GETS ?? 100_000);
const COPY_ROWS = Number(process.env.COPY_ROWS ?? 1_000_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const POOL = Number(process.env.POOL ?? 16);

const SCHEMA = `
DROP TABLE IF EXISTS products;
CREATE TABLE products (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  price double precision NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX products_xid_seq ON products (xid, seq);
`;

const INSERT_SQL = 'INSERT INTO products (id, name, price) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING xid::text AS xid';
const GET_SQL = 'SELECT id, name, price, (extract(epoch FROM created_at) * 1000)::float8 AS created_at FROM products WHERE id = $1';

interface Figures {
  insertsPerSecond: number;
  insertP50: number;
  insertP99: number;
  getsPerSecond: number;
  copyMs: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** Runs `total` calls of `op(i)` from `workers` loops; returns elapsed ms and each call's latency. */
async function drive(total: number, workers: number, op: (i: number) => Promise<unknown>): Promise<{ ms: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { ms: performance.now() - start, latencies: latencies.sort((a, b) => a - b) };
}

function copyLines(rows: number, prefix: string): Readable {
  const CHUNK = 10_000;
  let i = 0;
  return new Readable({
    read() {
      if (i >= rows) return void this.push(null);
      let text = '';
      for (const end = Math.min(rows, i + CHUNK); i < end; i++) text += `${prefix}${i}\tProduct ${prefix}${i}\t0\n`;
      this.push(text);
    },
  });
}

async function benchPg(url: string): Promise<Figures> {
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  pool.on('error', () => undefined); // the final DROP DATABASE ... WITH (FORCE) may end a closing connection
  try {
    await pool.query(SCHEMA);
    const ins = await drive(INSERTS, CONCURRENCY, (i) => pool.query({ name: 'ins', text: INSERT_SQL, values: [`pg-${i}`, 'Lamp', 9.5] }));
    const gets = await drive(GETS, CONCURRENCY, (i) => pool.query({ name: 'get', text: GET_SQL, values: [`pg-${i % INSERTS}`] }));
    await pool.query('TRUNCATE products');
    const client = await pool.connect();
    const t = performance.now();
    try {
      await client.query('BEGIN');
      await pipeline(copyLines(COPY_ROWS, 'c-'), client.query(copyFrom('COPY products (id, name, price) FROM STDIN')));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const copyMs = performance.now() - t;
    return {
      insertsPerSecond: (INSERTS / ins.ms) * 1000,
      insertP50: percentile(ins.latencies, 0.5),
      insertP99: percentile(ins.latencies, 0.99),
      getsPerSecond: (GETS / gets.ms) * 1000,
      copyMs,
    };
  } finally {
    await pool.end();
  }
}

async function benchPostgresJs(url: string): Promise<Figures> {
  const sql = postgres(url, { max: POOL, prepare: true, onnotice: () => undefined });
  try {
    await sql.unsafe(SCHEMA);
    const ins = await drive(INSERTS, CONCURRENCY, (i) => sql.unsafe(INSERT_SQL, [`pj-${i}`, 'Lamp', 9.5], { prepare: true }));
    const gets = await drive(GETS, CONCURRENCY, (i) => sql.unsafe(GET_SQL, [`pj-${i % INSERTS}`], { prepare: true }));
    await sql`TRUNCATE products`;
    const t = performance.now();
    await sql.begin(async (tx) => {
      const writable = await tx`COPY products (id, name, price) FROM STDIN`.writable();
      await pipeline(copyLines(COPY_ROWS, 'c-'), writable);
    });
    const copyMs = performance.now() - t;
    return {
      insertsPerSecond: (INSERTS / ins.ms) * 1000,
      insertP50: percentile(ins.latencies, 0.5),
      insertP99: percentile(ins.latencies, 0.99),
      getsPerSecond: (GETS / gets.ms) * 1000,
      copyMs,
    };
  } finally {
    await sql.end();
  }
}

const db = await createScratchDatabase();
try {
  const results: Record<string, Figures> = {};
  // Alternate the order across two rounds so neither driver always runs on a warmer server.
  for (const [label, run] of [
    ['pg', benchPg],
    ['postgres', benchPostgresJs],
    ['postgres (2)', benchPostgresJs],
    ['pg (2)', benchPg],
  ] as const) {
    results[label] = await run(db.url);
  }
  console.log(`npx tsx load/store-bench.ts  # INSERTS=${INSERTS} GETS=${GETS} COPY_ROWS=${COPY_ROWS} CONCURRENCY=${CONCURRENCY} POOL=${POOL}, node ${process.version}`);
  console.log('driver        inserts/s  insert p50 ms  insert p99 ms  gets/s   COPY ms');
  for (const [label, f] of Object.entries(results)) {
    console.log(
      `${label.padEnd(13)} ${f.insertsPerSecond.toFixed(0).padStart(9)}  ${f.insertP50.toFixed(2).padStart(13)}  ${f.insertP99.toFixed(2).padStart(13)}  ${f.getsPerSecond.toFixed(0).padStart(7)}  ${f.copyMs.toFixed(0).padStart(7)}`,
    );
  }
} finally {
  await db.drop();
}
