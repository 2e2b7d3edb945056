/**
 * Start-up and persistence figures with ROWS ids (issue 4's list, issue 9's
 * compiled-vs-loader comparison): cold start (file -> SQLite -> filter) and
 * resident memory for each mode in MODES, alternated over ROUNDS fresh
 * databases (medians); then, on the first mode, restore from a Redis snapshot
 * vs a rebuild from the database (alternated, medians), a full snapshot write
 * and the event-loop stall it causes, and the false-positive rate over ROWS
 * absent ids.
 *
 *   npx tsx load/startup-bench.ts    # ROWS=1000000 ROUNDS=3 MODES=compiled,tsx REDIS_URL=redis://127.0.0.1:6379
 *
 * `compiled` runs `node dist/src/index.js` (built here first with `npm run build`);
 * `tsx` runs `node --import tsx src/index.ts`. Every server is a child process, so
 * RSS is the service's own. Memory is read after the cold start's first snapshot:
 * VmRSS and its anonymous / file-backed split from /proc/<pid>/status, the V8 heap
 * and `external` (ArrayBuffers, the filter's SharedArrayBuffer among them) from the
 * service's own default metrics. Worker threads' heaps and native allocations
 * (SQLite's page cache, uWS) are in RSS but in neither of those.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { absentId, writeProductsFile } from './products-file.js';
import { deleteNamespaceKeys, runNamespace } from './redis-namespace.js';
import { startServer, type ServerProcess } from './server-process.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MODES = (process.env.MODES ?? 'compiled,tsx').split(',').map((m) => m.trim());
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHECK_BATCH = 10_000;

type Mode = 'compiled' | 'tsx';
const ENTRY: Readonly<Record<Mode, string>> = { compiled: 'dist/src/index.js', tsx: 'src/index.ts' };
const isMode = (m: string): m is Mode => m === 'compiled' || m === 'tsx';

interface BloomStats {
  items: number;
  load: { source: string; ms: number };
  snapshot: { saves: number; last_duration_ms: number | null; last_stall_ms: number | null; last_bytes: number };
}

/** MiB figures of one process: /proc/<pid>/status plus the service's own nodejs_* metrics. */
interface Memory {
  rss: number;
  rssAnon: number;
  rssFile: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface ColdStart {
  loadMs: number;
  readyMs: number;
  items: number;
  memory: Memory;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const MiB = 1024 * 1024;

async function stats(server: ServerProcess): Promise<BloomStats> {
  return (await (await fetch(`${server.url}/bloom/stats`)).json()) as BloomStats;
}

function statusKiB(status: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
}

function metric(text: string, name: string): number {
  return Number(new RegExp(`^bloomgate_${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

async function memory(server: ServerProcess): Promise<Memory> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return {
    rss: statusKiB(status, 'VmRSS') / 1024,
    rssAnon: statusKiB(status, 'RssAnon') / 1024,
    rssFile: statusKiB(status, 'RssFile') / 1024,
    heapUsed: metric(metrics, 'nodejs_heap_size_used_bytes') / MiB,
    heapTotal: metric(metrics, 'nodejs_heap_size_total_bytes') / MiB,
    external: metric(metrics, 'nodejs_external_memory_bytes') / MiB,
  };
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

interface Results {
  readonly modes: readonly Mode[];
  readonly cold: ReadonlyMap<Mode, ColdStart[]>;
  /** The mode the restores and rebuilds ran in. */
  readonly mode: Mode;
  readonly coldStats: BloomStats;
  readonly fpr: number;
  readonly restores: number[];
  readonly rebuilds: number[];
  readonly readyRestore: number[];
  readonly readyRebuild: number[];
}

/** Prints the figures as a Markdown table (for load/RESULTS.md), then every run. */
function printResults(results: Results): void {
  const { modes, cold, mode, coldStats, fpr, restores, rebuilds, readyRestore, readyRebuild } = results;
  const restoreMs = median(restores);
  const rebuildMs = median(rebuilds);
  const rows: [string, string, string][] = [];
  for (const m of modes) {
    const runs = cold.get(m)!;
    const mem = (pick: (x: Memory) => number): string => median(runs.map((r) => pick(r.memory))).toFixed(0);
    rows.push(
      [`${m}: cold start, file -> SQLite -> filter (service-reported, median)`, `${median(runs.map((r) => r.loadMs)).toFixed(0)} ms`, m === 'compiled' ? '<= 3 s' : ''],
      [`${m}: cold start, spawn -> /health 200 (median)`, `${median(runs.map((r) => r.readyMs)).toFixed(0)} ms`, ''],
      [`${m}: resident memory with ${runs[0]!.items.toLocaleString('en-US')} items (median)`, `${mem((x) => x.rss)} MiB`, m === 'compiled' ? '<= 150 MB' : ''],
      [`${m}: RSS anonymous / file-backed`, `${mem((x) => x.rssAnon)} / ${mem((x) => x.rssFile)} MiB`, ''],
      [`${m}: main V8 heap used / total; external (ArrayBuffers incl. the filter)`, `${mem((x) => x.heapUsed)} / ${mem((x) => x.heapTotal)}; ${mem((x) => x.external)} MiB`, ''],
    );
  }
  rows.push(
    [`${mode}: restore from snapshot (median)`, `${restoreMs.toFixed(1)} ms`, '<= 100 ms'],
    [`${mode}: rebuild from database (median)`, `${rebuildMs.toFixed(1)} ms`, ''],
    ['rebuild / restore', `${(rebuildMs / restoreMs).toFixed(1)}x`, '>= 10x'],
    ['spawn -> healthy, restore / rebuild (median)', `${median(readyRestore).toFixed(0)} / ${median(readyRebuild).toFixed(0)} ms`, ''],
    ['full snapshot write (encode + HSET)', `${coldStats.snapshot.last_duration_ms?.toFixed(1)} ms, ${(coldStats.snapshot.last_bytes / 1e6).toFixed(2)} MB`, ''],
    ['event-loop stall of that write (copy + crc32, synchronous)', `${coldStats.snapshot.last_stall_ms?.toFixed(2)} ms`, '<= 20 ms'],
    [`false-positive rate over ${ROWS.toLocaleString('en-US')} absent ids`, `${(fpr * 100).toFixed(3)} %`, '<= 1 %'],
  );
  console.log(`\nnpx tsx load/startup-bench.ts  (ROWS=${ROWS} ROUNDS=${ROUNDS} MODES=${modes.join(',')} REDIS_URL=${REDIS_URL}; Node ${process.version})\n`);
  console.log('| figure | measured | target |\n|---|---|---|');
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
  for (const m of modes) {
    const runs = cold.get(m)!;
    console.log(`${m} cold starts: ${runs.map((r) => `${r.loadMs.toFixed(0)} ms / ${r.memory.rss.toFixed(0)} MiB`).join(', ')}`);
  }
  console.log(`restores: ${restores.map((x) => x.toFixed(1)).join(', ')} ms; rebuilds: ${rebuilds.map((x) => x.toFixed(0)).join(', ')} ms`);
}

async function main(): Promise<void> {
  const modes = MODES.filter(isMode);
  if (modes.length === 0 || modes.length !== MODES.length) throw new Error(`MODES must list compiled and/or tsx (got ${MODES.join(',')})`);
  if (modes.includes('compiled')) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });

  const data = await writeProductsFile(ROWS);
  const namespace = runNamespace('startup');
  const namespaces = [namespace];
  const env = (dbName: string, ns: string): Record<string, string> => ({
    DB_PATH: data.dbPath(dbName),
    PRODUCTS_FILE: data.productsFile,
    REDIS_URL,
    BLOOM_STATE_NAMESPACE: ns,
    LOG_LEVEL: 'warn',
  });
  const start = (mode: Mode, dbName: string, ns: string) =>
    startServer({ name: `bloomgate (${mode})`, entry: ENTRY[mode], env: env(dbName, ns), healthTimeoutMs: 120_000 });
  const redis = new Redis(REDIS_URL);
  try {
    // Cold starts: a fresh database and namespace each time, modes alternated so drift hits all.
    const cold = new Map<Mode, ColdStart[]>(modes.map((m) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of modes) {
        const name = `cold-${mode}-${round}`;
        const ns = `${namespace}-${name}`;
        namespaces.push(ns);
        const server = await start(mode, name, ns);
        const s = await waitForSave(server);
        cold.get(mode)!.push({ loadMs: s.load.ms, readyMs: server.readyMs, items: s.items, memory: await memory(server) });
        await server.stop();
        for (const suffix of ['', '-wal', '-shm']) rmSync(data.dbPath(name) + suffix, { force: true });
      }
    }

    // The rest on the first mode: a cold start to restore from, then restores and rebuilds alternated.
    const mode = modes[0]!;
    const first = await start(mode, 'startup', namespace);
    const coldStats = await waitForSave(first);
    const fpr = await measureFpr(first);
    await first.stop();
    const restores: number[] = [];
    const rebuilds: number[] = [];
    const readyRestore: number[] = [];
    const readyRebuild: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const restored = await start(mode, 'startup', namespace);
      const r = await stats(restored);
      if (r.load.source !== 'snapshot') throw new Error(`expected a restore, got ${r.load.source}`);
      restores.push(r.load.ms);
      readyRestore.push(restored.readyMs);
      await restored.stop();

      await redis.del(`bloom:state:${namespace}:snapshot`);
      const rebuilt = await start(mode, 'startup', namespace);
      const b = await stats(rebuilt);
      if (b.load.source !== 'rebuild') throw new Error(`expected a rebuild, got ${b.load.source}`);
      rebuilds.push(b.load.ms);
      readyRebuild.push(rebuilt.readyMs);
      await waitForSave(rebuilt); // leaves a full snapshot for the next restore
      await rebuilt.stop();
    }

    printResults({ modes, cold, mode, coldStats, fpr, restores, rebuilds, readyRestore, readyRebuild });
  } finally {
    for (const ns of namespaces) await deleteNamespaceKeys(REDIS_URL, ns).catch(() => undefined);
    redis.disconnect();
    await data.remove();
  }
}

await main();
