/**
 * Start-up and persistence figures with ROWS ids (issue 4's list): cold start
 * (file -> SQLite -> filter), restore from a Redis snapshot vs a rebuild from the
 * database (alternated, medians), a full snapshot write and the event-loop stall
 * it causes, the false-positive rate over ROWS absent ids, and resident memory.
 *
 *   npx tsx load/startup-bench.ts                  # ROWS=1000000 ROUNDS=3 REDIS_URL=redis://127.0.0.1:6379
 *
 * Every server is a child process (`src/index.ts`), so RSS is the service's own.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { absentId, writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, runNamespace } from './redis-namespace.js';
import { startServer, type ServerProcess } from './server-process.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHECK_BATCH = 10_000;

interface BloomStats {
  items: number;
  load: { source: string; ms: number };
  snapshot: { saves: number; last_duration_ms: number | null; last_stall_ms: number | null; last_bytes: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function stats(server: ServerProcess): Promise<BloomStats> {
  return (await (await fetch(`${server.url}/bloom/stats`)).json()) as BloomStats;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function waitForSave(server: ServerProcess): Promise<BloomStats> {
  for (let i = 0; i < 200; i++) {
    const s = await stats(server);
    if (s.snapshot.saves >= 1) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no snapshot was saved within 10 s');
}

async function measureFpr(server: ServerProcess): Promise<number> {
  let positives = 0;
  for (let start = 0; start < ROWS; start += CHECK_BATCH) {
    const ids = Array.from({ length: Math.min(CHECK_BATCH, ROWS - start) }, (_, j) => absentId(start + j));
    const res = await fetch(`${server.url}/bloom/check`, { method: 'POST', body: JSON.stringify({ ids }) });
    const { results } = (await res.json()) as { results: boolean[] };
    positives += results.filter(Boolean).length;
  }
  return positives / ROWS;
}

async function main(): Promise<void> {
  const data = await writeProductsFile(ROWS);
  const namespace = runNamespace('startup');
  const env = {
    DB_PATH: data.dbPath('startup'),
    PRODUCTS_FILE: data.productsFile,
    REDIS_URL,
    BLOOM_STATE_NAMESPACE: namespace,
    LOG_LEVEL: 'warn',
  };
  const start = () => startServer({ name: 'bloomgate', entry: 'src/index.ts', env, healthTimeoutMs: 120_000 });
  const redis = new Redis(REDIS_URL);
  try {
    // Cold start: empty database, the products file is imported.
    const cold = await start();
    const coldStats = await waitForSave(cold);
    const rss = rssMiB(cold.pid);
    const fpr = await measureFpr(cold);
    await cold.stop();

    // Restore and rebuild, alternated so drift hits both.
    const restores: number[] = [];
    const rebuilds: number[] = [];
    const readyRestore: number[] = [];
    const readyRebuild: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const restored = await start();
      const r = await stats(restored);
      if (r.load.source !== 'snapshot') throw new Error(`expected a restore, got ${r.load.source}`);
      restores.push(r.load.ms);
      readyRestore.push(restored.readyMs);
      await restored.stop();

      await redis.del(`bloom:state:${namespace}:snapshot`);
      const rebuilt = await start();
      const b = await stats(rebuilt);
      if (b.load.source !== 'rebuild') throw new Error(`expected a rebuild, got ${b.load.source}`);
      rebuilds.push(b.load.ms);
      readyRebuild.push(rebuilt.readyMs);
      await waitForSave(rebuilt); // leaves a full snapshot for the next restore
      await rebuilt.stop();
    }

    const restoreMs = median(restores);
    const rebuildMs = median(rebuilds);
    const rows: [string, string, string][] = [
      ['cold start: file -> SQLite -> filter (service-reported)', `${coldStats.load.ms.toFixed(0)} ms`, '<= 5 s'],
      ['cold start: spawn -> /health 200', `${cold.readyMs.toFixed(0)} ms`, ''],
      ['restore from snapshot (median)', `${restoreMs.toFixed(1)} ms`, '<= 100 ms'],
      ['rebuild from database (median)', `${rebuildMs.toFixed(1)} ms`, ''],
      ['rebuild / restore', `${(rebuildMs / restoreMs).toFixed(1)}x`, '>= 10x'],
      ['spawn -> healthy, restore / rebuild (median)', `${median(readyRestore).toFixed(0)} / ${median(readyRebuild).toFixed(0)} ms`, ''],
      ['full snapshot write (encode + HSET)', `${coldStats.snapshot.last_duration_ms?.toFixed(1)} ms, ${(coldStats.snapshot.last_bytes / 1e6).toFixed(2)} MB`, ''],
      ['event-loop stall of that write (copy + crc32, synchronous)', `${coldStats.snapshot.last_stall_ms?.toFixed(2)} ms`, '<= 20 ms'],
      [`false-positive rate over ${ROWS.toLocaleString('en-US')} absent ids`, `${(fpr * 100).toFixed(3)} %`, '<= 1 %'],
      [`resident memory with ${coldStats.items.toLocaleString('en-US')} items`, `${rss.toFixed(0)} MiB`, ''],
    ];
    console.log(`\nnpx tsx load/startup-bench.ts  (ROWS=${ROWS} ROUNDS=${ROUNDS} REDIS_URL=${REDIS_URL}; Node ${process.version})\n`);
    console.log('| figure | measured | target |\n|---|---|---|');
    for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
    console.log(`\nrestores: ${restores.map((x) => x.toFixed(1)).join(', ')} ms; rebuilds: ${rebuilds.map((x) => x.toFixed(0)).join(', ')} ms`);
  } finally {
    await deleteNamespaceKeys(REDIS_URL, namespace).catch(() => undefined);
    redis.disconnect();
    await data.remove();
  }
}

await main();
