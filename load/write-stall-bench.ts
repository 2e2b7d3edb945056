/**
 * Issue 10 §2: do SQLite writes stall the guard? Three parts, each printing
 * numbers and the command that reproduces them:
 *
 *   stall   rejections/s (wrk, absent ids) alone, creates/s of 16 connections
 *           alone, then rejections while 16 connections (and while 1
 *           connection) create products, on the service at BENCH_SERVER_ENTRY
 *           (default src/index.ts; a worktree's for a before/after run);
 *           with BENCH_CONTROL (default on, 0 for off) also while the 16
 *           connections create on a second process, a control that shows how
 *           much of the drop is the machine's contention (2 cores shared by
 *           both servers, Redis, the database and both wrk) and not the guard;
 *   store   the raw store: creates/s with 16 concurrent callers,
 *           SqliteProductStore (group commit) vs PostgresProductStore (a
 *           database of its own at DATABASE_URL's server, skipped when it does
 *           not answer), in one run; and get() latency on the main-thread read
 *           connection vs a hop to the writer thread;
 *   import  importIds of 1M ids (sequential and shuffled) with several page
 *           cache sizes, each in a child process, with its RSS after.
 *
 *   npx tsx load/write-stall-bench.ts
 *   BENCH_PARTS=store,import IMPORT_IDS=1000000 IMPORT_CACHES_MIB=2,8,16,64 npx tsx load/write-stall-bench.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDatabaseUrl } from '../src/store/database-url.js';
import { PostgresProductStore } from '../src/store/postgres-product-store.js';
import { SqliteProductStore } from '../src/store/sqlite-product-store.js';
import { ABSENT_PREFIX, writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, runNamespace } from './redis-namespace.js';
import { median, quantile } from './bench/stats.js';
import { createScratchDatabase, PG_ADMIN_URL, type ScratchDatabase } from './scratch-database.js';
import { seededRandom } from './scenarios.js';
import { startServer, type ServerProcess } from './server-process.js';
import { getIdsScript, runWrk, wrkAvailable, type WrkResult } from './wrk.js';

// Every knob, with its default.
const PARTS = (process.env.BENCH_PARTS ?? 'store,import,stall').split(',').map((p) => p.trim());
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REJECT_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 16);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY ?? 'src/index.ts';
const CONTROL = process.env.BENCH_CONTROL !== '0';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const STORE_CALLERS = Number(process.env.STORE_CALLERS ?? 16);
const STORE_DURATION_S = Number(process.env.STORE_DURATION_S ?? 5);
const GET_ROWS = Number(process.env.GET_ROWS ?? 100_000);
const GET_CALLS = Number(process.env.GET_CALLS ?? 20_000);
const IMPORT_IDS = Number(process.env.IMPORT_IDS ?? 1_000_000);
const IMPORT_CACHES_MIB = (process.env.IMPORT_CACHES_MIB ?? '2,8,16,64').split(',').map(Number);
const IMPORT_ORDERS = (process.env.IMPORT_ORDERS ?? 'sequential,shuffled').split(',').map((o) => o.trim());
const SEED = Number(process.env.SEED ?? 1);

const log = (line: string): void => console.error(line);
const out = (line: string): void => console.log(line);

function commandLine(): string {
  const knobs = Object.keys(process.env)
    // The service's own settings too (the servers inherit this environment).
    .filter((k) => /^(BENCH_|STORE_|GET_|IMPORT_|SQLITE_)/.test(k) || ['SEED', 'REDIS_URL', 'DATABASE_URL', 'CLUSTER_MODE'].includes(k))
    .filter((k) => k !== 'IMPORT_CHILD')
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...knobs, 'npx tsx load/write-stall-bench.ts'].join(' ');
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function ids(count: number, order: string): string[] {
  const list = Array.from({ length: count }, (_, i) => `SKU-${String(i).padStart(8, '0')}`);
  if (order === 'shuffled') {
    const random = seededRandom(SEED);
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }
  return list;
}

// ---------------------------------------------------------------- store

async function storeCreates(dir: string): Promise<void> {
  const product = (i: number, tag: string) => ({ id: `${tag}-${i}`, name: 'bench', price: 1 });

  const pgRate = await postgresCreates(product);

  const store = await SqliteProductStore.open({ path: join(dir, 'new.db') });
  let newCount = 0;
  const commitsBefore = store.commits;
  const newEnd = performance.now() + STORE_DURATION_S * 1000;
  // Event-loop delay while the writes run: a synchronous store would hold it for every fsync.
  let maxLagMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 1);
    last = now;
  }, 1);
  await Promise.all(
    Array.from({ length: STORE_CALLERS }, async (_, c) => {
      while (performance.now() < newEnd) await store.insert(product(newCount++, `new${c}`));
    }),
  );
  clearInterval(ticker);
  const newRate = newCount / STORE_DURATION_S;
  const commits = store.commits - commitsBefore;
  await store.close();

  out(`\n## Raw store: creates/s, ${STORE_CALLERS} concurrent callers, synchronous=FULL, ${STORE_DURATION_S} s each`);
  out('| store | creates/s | transactions | creates per transaction |');
  out('|---|---:|---:|---:|');
  out(`| SqliteProductStore (writer thread, group commit) | ${fmt(newRate)} | ${fmt(commits)} | ${(newCount / commits).toFixed(1)} |`);
  if (pgRate !== undefined) out(`| PostgresProductStore (pool of ${STORE_CALLERS}) | ${fmt(pgRate)} | ${fmt(pgRate * STORE_DURATION_S)} | 1 |`);
  const ratio = pgRate === undefined ? 'PostgreSQL not measured' : `ratio sqlite/postgres: ${(newRate / pgRate).toFixed(2)}x`;
  out(`${ratio}; main-thread max timer lag during SQLite writes: ${maxLagMs.toFixed(1)} ms`);
}

/** Creates/s on PostgreSQL with STORE_CALLERS callers, in a database of its own; undefined when the server does not answer. */
async function postgresCreates(product: (i: number, tag: string) => { id: string; name: string; price: number }): Promise<number | undefined> {
  let db: ScratchDatabase;
  try {
    db = await createScratchDatabase();
  } catch (err) {
    out(`PostgreSQL at ${describeDatabaseUrl(PG_ADMIN_URL)} did not answer (${(err as Error).message}); its row is skipped`);
    return undefined;
  }
  try {
    const store = await PostgresProductStore.open({ url: db.url, poolSize: STORE_CALLERS });
    let count = 0;
    const end = performance.now() + STORE_DURATION_S * 1000;
    await Promise.all(
      Array.from({ length: STORE_CALLERS }, async (_, c) => {
        while (performance.now() < end) await store.insert(product(count++, `pg${c}`));
      }),
    );
    await store.close();
    return count / STORE_DURATION_S;
  } finally {
    await db.drop();
  }
}

async function getLatency(dir: string): Promise<void> {
  const path = join(dir, 'get.db');
  const seedStore = await SqliteProductStore.open({ path });
  await seedStore.importIds(ids(GET_ROWS, 'sequential'));
  await seedStore.close();
  const random = seededRandom(SEED + 1);
  const lookups = Array.from({ length: GET_CALLS }, () => `SKU-${String(Math.floor(random() * GET_ROWS * 2)).padStart(8, '0')}`);
  out(`\n## get() latency, ${fmt(GET_CALLS)} sequential calls over ${fmt(GET_ROWS)} rows (half absent)`);
  out('| reads on | mean us | p50 us | p99 us |');
  out('|---|---:|---:|---:|');
  for (const reads of ['main', 'writer'] as const) {
    const store = await SqliteProductStore.open({ path, reads });
    for (const id of lookups.slice(0, 1000)) await store.get(id); // warm
    const samples: number[] = [];
    for (const id of lookups) {
      const t = performance.now();
      await store.get(id);
      samples.push((performance.now() - t) * 1000);
    }
    await store.close();
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    out(`| ${reads === 'main' ? 'main-thread read connection' : 'hop to the writer thread'} | ${mean.toFixed(1)} | ${quantile(samples, 0.5).toFixed(1)} | ${quantile(samples, 0.99).toFixed(1)} |`);
  }
}

// ---------------------------------------------------------------- import

interface ImportSample {
  readonly ms: number;
  readonly rssAfterImportMb: number;
  readonly rssAfterGetsMb: number;
  readonly getMeanUs: number;
}

/** In a child process of its own, so each RSS figure is that configuration's alone. */
async function importChild(spec: string): Promise<void> {
  const [cacheMiB, order, path] = spec.split(':') as [string, string, string];
  const list = ids(IMPORT_IDS, order);
  const store = await SqliteProductStore.open({ path, cacheSizeKiB: Number(cacheMiB) * 1024 });
  const t = performance.now();
  await store.importIds(list);
  const ms = performance.now() - t;
  list.length = 0;
  global.gc?.();
  const rssAfterImportMb = process.memoryUsage.rss() / 2 ** 20;
  const random = seededRandom(SEED + 2);
  const getsStarted = performance.now();
  for (let i = 0; i < 100_000; i++) await store.get(`SKU-${String(Math.floor(random() * IMPORT_IDS)).padStart(8, '0')}`);
  const getMeanUs = ((performance.now() - getsStarted) * 1000) / 100_000;
  const rssAfterGetsMb = process.memoryUsage.rss() / 2 ** 20;
  await store.close();
  const sample: ImportSample = { ms, rssAfterImportMb, rssAfterGetsMb, getMeanUs };
  console.log(`IMPORTJSON ${JSON.stringify(sample)}`);
}

function runChild(spec: string): Promise<ImportSample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'load/write-stall-bench.ts'], {
      env: { ...process.env, IMPORT_CHILD: spec },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('exit', (code) => {
      const line = text.split('\n').find((l) => l.startsWith('IMPORTJSON '));
      if (code !== 0 || line === undefined) reject(new Error(`import child ${spec} exited ${code}: ${text}`));
      else resolve(JSON.parse(line.slice('IMPORTJSON '.length)) as ImportSample);
    });
  });
}

async function importPart(dir: string): Promise<void> {
  out(`\n## importIds of ${fmt(IMPORT_IDS)} ids (one transaction, writer thread), page cache per connection, each in a child process`);
  out('| ids order | cache MiB | import ms | RSS after import MB | RSS after 100k random gets MB | get mean us |');
  out('|---|---:|---:|---:|---:|---:|');
  for (const order of IMPORT_ORDERS) {
    for (const cache of IMPORT_CACHES_MIB) {
      const path = join(dir, `import-${order}-${cache}.db`);
      const s = await runChild(`${cache}:${order}:${path}`);
      out(`| ${order} | ${cache} | ${fmt(s.ms)} | ${s.rssAfterImportMb.toFixed(0)} | ${s.rssAfterGetsMb.toFixed(0)} | ${s.getMeanUs.toFixed(1)} |`);
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
    }
  }
}

// ---------------------------------------------------------------- stall

function createScript(tag: string): string {
  return `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
init = function(args)
  n = 0
end
request = function()
  n = n + 1
  local body = '{"id":"${tag}-' .. tid .. '-' .. n .. '","name":"bench","price":1}'
  return wrk.format("POST", "/products", { ["Content-Type"] = "application/json" }, body)
end
`;
}

async function stallPart(dir: string): Promise<void> {
  if (!(await wrkAvailable())) {
    out('\n## Write stall: skipped (wrk is not installed: apt-get install -y wrk)');
    return;
  }
  const data = await writeProductsFile(PRODUCTS);
  const namespace = runNamespace('stall');
  const controlNamespace = runNamespace('stall-control');
  // The control server differs only in its database and namespace, so its creates cost the machine what the first's do.
  const serverEnv = (dbName: string, ns: string) => ({
    DB_PATH: data.dbPath(dbName),
    PRODUCTS_FILE: data.productsFile,
    REDIS_URL,
    BLOOM_STATE_NAMESPACE: ns,
    LOG_LEVEL: 'warn',
  });
  const server = await startServer({ name: 'bloomgate', entry: SERVER_ENTRY, env: serverEnv('stall', namespace) });
  let control: ServerProcess | undefined;
  const reject = (durationS: number) =>
    runWrk({ url: server.url, durationS, connections: REJECT_CONNECTIONS, threads: 1, script: getIdsScript(ABSENT_PREFIX, 8, null), dir });
  const create = (target: ServerProcess, connections: number, tag: string) =>
    runWrk({ url: target.url, durationS: DURATION_S, connections, threads: 1, script: createScript(tag), dir });
  const rows: {
    alone: WrkResult;
    createsAlone: WrkResult;
    control: [WrkResult, WrkResult] | undefined;
    with16: [WrkResult, WrkResult];
    with1: [WrkResult, WrkResult];
  }[] = [];
  try {
    if (CONTROL) control = await startServer({ name: 'bloomgate-control', entry: SERVER_ENTRY, env: serverEnv('stall-control', controlNamespace) });
    await reject(1); // warm
    for (let round = 0; round < ROUNDS; round++) {
      log(`stall round ${round + 1}/${ROUNDS}`);
      const alone = await reject(DURATION_S);
      // The creates' own rate with nobody looking up: what 16 connections get when the CPU is theirs.
      const createsAlone = await create(server, WRITERS, `W${round}a`);
      // Rejections on the first server, creates on the second: the same load on the machine, none on the guard's event loop.
      const withControl = control === undefined ? undefined : await Promise.all([reject(DURATION_S), create(control, WRITERS, `W${round}c`)]);
      const with16 = await Promise.all([reject(DURATION_S), create(server, WRITERS, `W${round}m`)]);
      const with1 = await Promise.all([reject(DURATION_S), create(server, 1, `W${round}s`)]);
      rows.push({ alone, createsAlone, control: withControl, with16, with1 });
    }
  } finally {
    await server.stop();
    await control?.stop();
    await deleteNamespaceKeys(REDIS_URL, namespace).catch(() => 0);
    if (control !== undefined) await deleteNamespaceKeys(REDIS_URL, controlNamespace).catch(() => 0);
    await data.remove();
  }
  const m = (pick: (r: (typeof rows)[number]) => number) => median(rows.map(pick));
  const alone = m((r) => r.alone.rps);
  out(`\n## Write stall on ${SERVER_ENTRY} (median of ${ROUNDS} rounds, ${DURATION_S} s each, wrk ${REJECT_CONNECTIONS} connections on absent ids)`);
  out('| case | rejections/s | ratio to alone | rejection p50 ms | rejection p99 ms | creates/s | creates/s / rejections alone | create errors |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|');
  out(`| rejections alone | ${fmt(alone)} | 1.00x | ${(m((r) => r.alone.p50Us) / 1000).toFixed(2)} | ${(m((r) => r.alone.p99Us) / 1000).toFixed(2)} | | | |`);
  const createsAlone = m((r) => r.createsAlone.rps);
  out(
    `| ${WRITERS} connections create, no lookups | | | | | ${fmt(createsAlone)} | ${(createsAlone / alone).toFixed(3)}x | ${fmt(m((r) => {
      const e = r.createsAlone.errors;
      return e.status + e.connect + e.read + e.write + e.timeout;
    }))} |`,
  );
  type Row = (typeof rows)[number];
  const cases: [string, (r: Row) => [WrkResult, WrkResult]][] = [];
  if (control !== undefined) cases.push([`while ${WRITERS} connections create on another process`, (r) => r.control!]);
  cases.push([`while ${WRITERS} connections create`, (r) => r.with16], ['while 1 connection creates', (r) => r.with1]);
  for (const [label, pick] of cases) {
    const rps = m((r) => pick(r)[0].rps);
    const creates = m((r) => pick(r)[1].rps);
    const errors = m((r) => {
      const e = pick(r)[1].errors;
      return e.status + e.connect + e.read + e.write + e.timeout;
    });
    out(
      `| ${label} | ${fmt(rps)} | ${(rps / alone).toFixed(3)}x | ${(m((r) => pick(r)[0].p50Us) / 1000).toFixed(2)} | ${(m((r) => pick(r)[0].p99Us) / 1000).toFixed(2)} | ${fmt(creates)} | ${(creates / alone).toFixed(3)}x | ${fmt(errors)} |`,
    );
  }
  if (control !== undefined) {
    const same = m((r) => r.with16[0].rps);
    const other = m((r) => r.control![0].rps);
    out(
      `guard stall ratio (same process / other process, ${WRITERS} creating connections): ${(same / other).toFixed(2)}x (1.00x = creating costs the guard nothing beyond the machine's contention); ` +
        `creates/s ${fmt(m((r) => r.with16[1].rps))} on this process, ${fmt(m((r) => r.control![1].rps))} on the other`,
    );
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const child = process.env.IMPORT_CHILD;
  if (child !== undefined) return importChild(child);
  const dir = mkdtempSync(join(tmpdir(), 'write-stall-'));
  let disk = 'unknown';
  try {
    disk = execFileSync('df', ['-h', '--output=source,fstype', tmpdir()]).toString().split('\n')[1]?.trim() ?? disk;
  } catch {
    // df is only for the report header
  }
  out(`# write-stall bench: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, temp dir on ${disk}`);
  out(`command: ${commandLine()}`);
  try {
    if (PARTS.includes('store')) {
      await storeCreates(dir);
      await getLatency(dir);
    }
    if (PARTS.includes('import')) await importPart(dir);
    if (PARTS.includes('stall')) await stallPart(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
