// What a Node team would otherwise build in an afternoon, for load/bench.ts to
// compare bloomgate against: Fastify + ioredis + the `bloom-filters` package,
// with the same GET flow and the same JSON bodies:
//
//   filter says no          -> 404 {"error":"not_found","message","id","source":"bloom_filter"}
//   Redis has the product   -> 200 {...,"source":"cache"}
//   Redis has "!absent"     -> 404 {...,"source":"negative_cache"}
//   SQLite has the product  -> 200 {...,"source":"database"} and a cache fill
//   SQLite has nothing      -> 404 {...,"source":"database"} and a negative cache fill
//
// Plain JS, no build. better-sqlite3 comes from the root install (the peer's
// own dependencies stay in load/peer/node_modules).
//
//   npm install --prefix load/peer
//   PORT=8200 DB_PATH=/tmp/peer.db PRODUCTS_FILE=data/products.txt REDIS_URL=redis://127.0.0.1:6379 node load/peer/server.mjs
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import bloomFilters from 'bloom-filters';

const PORT = Number(process.env.PORT ?? 8000);
const HOST = process.env.HOST ?? '0.0.0.0';
const DB_PATH = process.env.DB_PATH ?? 'data/peer.db';
const PRODUCTS_FILE = process.env.PRODUCTS_FILE ?? 'data/products.txt';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NAMESPACE = process.env.BLOOM_STATE_NAMESPACE ?? 'peer';
const BLOOM_CAPACITY = Number(process.env.BLOOM_CAPACITY ?? 1_000_000);
const BLOOM_FPR = Number(process.env.BLOOM_FPR ?? 0.01);
const CACHE_TTL_S = Number(process.env.CACHE_TTL_S ?? 300);
const NEGATIVE_TTL_S = Number(process.env.NEGATIVE_TTL_S ?? 60);
/** A user who read the ioredis docs turns this on; off shows what it is worth. */
const AUTO_PIPELINING = (process.env.PEER_AUTO_PIPELINING ?? '1') !== '0';

if (!REDIS_URL.startsWith('redis://') && !REDIS_URL.startsWith('rediss://')) {
  console.error(`REDIS_URL=${JSON.stringify(REDIS_URL)} must be redis:// or rediss:// (the peer runs against a real Redis only)`);
  process.exit(1);
}

const rootRequire = createRequire(new URL('../../package.json', import.meta.url));
const Database = rootRequire('better-sqlite3');
const { BloomFilter } = bloomFilters;

const ABSENT = '!absent';
const cacheKey = (id) => `peer:cache:${NAMESPACE}:${id}`;

// --- database: open, import the products file on first start --------------
if (DB_PATH !== ':memory:') mkdirSync(dirname(DB_PATH), { recursive: true });
const db = new Database(DB_PATH);
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL)');
const countRows = db.prepare('SELECT count(*) FROM products').pluck();
if (countRows.get() === 0 && existsSync(PRODUCTS_FILE)) {
  const insert = db.prepare('INSERT OR IGNORE INTO products (id, name, price) VALUES (?, ?, 0)');
  const lines = readFileSync(PRODUCTS_FILE, 'utf8').split('\n');
  db.transaction(() => {
    for (const line of lines) {
      const id = line.trim();
      if (id !== '') insert.run(id, `Product ${id}`);
    }
  })();
}
const getProduct = db.prepare('SELECT id, name, price FROM products WHERE id = ?');

// --- filter: sized for the same capacity and rate as bloomgate -------------
const started = performance.now();
const filter = BloomFilter.create(BLOOM_CAPACITY, BLOOM_FPR);
for (const id of db.prepare('SELECT id FROM products').pluck().iterate()) filter.add(id);
const loadMs = Math.round(performance.now() - started);

// --- redis and http ---------------------------------------------------------
const redis = new Redis(REDIS_URL, { enableAutoPipelining: AUTO_PIPELINING, maxRetriesPerRequest: 1 });

const app = Fastify({ logger: false });

function notFound(reply, id, source) {
  return reply.code(404).send({ error: 'not_found', message: 'no such product', id, source });
}

app.get('/health', async () => ({ status: 'ok', items: countRows.get(), filter_load_ms: loadMs }));

app.get('/products/:id', async (request, reply) => {
  const { id } = request.params;
  if (!filter.has(id)) return notFound(reply, id, 'bloom_filter');
  const cached = await redis.get(cacheKey(id));
  if (cached === ABSENT) return notFound(reply, id, 'negative_cache');
  if (cached !== null) {
    const product = JSON.parse(cached);
    return { id: product.id, name: product.name, price: product.price, source: 'cache' };
  }
  const row = getProduct.get(id);
  if (row === undefined) {
    await redis.set(cacheKey(id), ABSENT, 'EX', NEGATIVE_TTL_S, 'NX');
    return notFound(reply, id, 'database');
  }
  await redis.set(cacheKey(id), JSON.stringify(row), 'EX', CACHE_TTL_S);
  return { id: row.id, name: row.name, price: row.price, source: 'database' };
});

await app.listen({ port: PORT, host: HOST });
console.log(`peer listening on ${HOST}:${PORT} (${countRows.get()} products, filter loaded in ${loadMs} ms)`);

async function shutdown() {
  await app.close();
  await redis.quit().catch(() => redis.disconnect());
  db.close();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
