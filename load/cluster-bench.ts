/**
 * Scale-out figures (issue 11, section 6), every one from real processes on
 * the real PostgreSQL and Redis, each phase on a fresh database and namespace:
 *
 *   propagation  feed propagation p50/p99: a create's feed entry (its stream id
 *                carries Redis's clock at XADD) to the moment another instance
 *                PUBLISHes that it applied it (what a writer's barrier waits on)
 *   latency      create latency with 1 and with 3 instances (same run, ratio)
 *   kill         how long writes wait when an instance dies (kill -9 under writes)
 *   reuseport    rejections/s (GET of absent ids, wrk) with 2 processes on one
 *                port (SO_REUSEPORT) vs 1 process, and server CPU per request
 *                from /proc/<pid>/stat
 *   join         join time of a new instance with JOIN_IDS ids (restore the
 *                shared snapshot + catch up, spawn to /health 200)
 *
 *   npx tsx load/cluster-bench.ts
 *   # PHASES=propagation,latency,kill,reuseport,join REDIS_URL=redis://127.0.0.1:6379
 *   # DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres PROPAGATION_CREATES=500
 *   # LATENCY_CREATES=1500 LATENCY_CONCURRENCY=8 KILL_LANES=8 WRK_SECONDS=5 WRK_CONNECTIONS=64 REUSEPORT_ROUNDS=2
 *   # JOIN_IDS=1000000 JOIN_ROUNDS=3 SERVER_WORKERS=1
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { clusterKeys } from '../src/cluster/cluster-keys.js';
import { forEachConcurrent } from '../test/helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { scatteredId } from '../test/helpers/ids.js';
import { sleep, type ServerProcess } from '../test/helpers/server-process.js';
import { writeProductsFile } from './products-file.js';
import { cpuMs, quantile } from './bench/stats.js';
import { getIdsScript, runWrk, wrkAvailable } from './wrk.js';

const PHASES = (process.env.PHASES ?? 'propagation,latency,kill,reuseport,join').split(',').map((p) => p.trim());
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PROPAGATION_CREATES = Number(process.env.PROPAGATION_CREATES ?? 500);
const LATENCY_CREATES = Number(process.env.LATENCY_CREATES ?? 1_500);
const LATENCY_CONCURRENCY = Number(process.env.LATENCY_CONCURRENCY ?? 8);
const KILL_LANES = Number(process.env.KILL_LANES ?? 8);
const KILL_AFTER_MS = Number(process.env.KILL_AFTER_MS ?? 2_000);
const KILL_WRITE_MS = Number(process.env.KILL_WRITE_MS ?? 6_000);
const WRK_SECONDS = Number(process.env.WRK_SECONDS ?? 5);
const WRK_CONNECTIONS = Number(process.env.WRK_CONNECTIONS ?? 64);
const WRK_THREADS = Number(process.env.WRK_THREADS ?? 1);
const REUSEPORT_ROUNDS = Number(process.env.REUSEPORT_ROUNDS ?? 2);
const JOIN_IDS = Number(process.env.JOIN_IDS ?? 1_000_000);
const JOIN_ROUNDS = Number(process.env.JOIN_ROUNDS ?? 3);
const SERVER_WORKERS = process.env.SERVER_WORKERS ?? '1';

// The test helpers read the maintenance database from here (test/helpers/test-services.ts).
process.env.TEST_DATABASE_URL = DATABASE_URL;

const BASE_ENV: Readonly<Record<string, string>> = { WORKERS: SERVER_WORKERS, LOG_LEVEL: 'warn', AUDIT_SAMPLE_EVERY: '0' };

function summary(values: readonly number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5).toFixed(2)} ms, p99 ${quantile(s, 0.99).toFixed(2)} ms, max ${(s.at(-1) ?? NaN).toFixed(2)} ms (n=${s.length})`;
}

async function withCluster<T>(size: number, env: Readonly<Record<string, string>>, fn: (cluster: Cluster) => Promise<T>, sharedPort = false): Promise<T> {
  const cluster = await startCluster({ size, redisUrl: REDIS_URL, env: { ...BASE_ENV, ...env }, sharedPort, healthyTimeoutMs: 300_000 });
  try {
    return await fn(cluster);
  } finally {
    await cluster.dispose();
  }
}

async function create(server: ServerProcess, id: string): Promise<number> {
  const res = await server.postProduct({ id, name: 'bench', price: 1 }, 30_000);
  if (res.status !== 201) throw new Error(`create ${id} answered ${res.status}: ${res.text}`);
  return res.ms;
}

/** Milliseconds of Redis's clock in a stream id ('1700000000123-0'). */
function streamMs(entryId: string): number {
  return Number(entryId.split('-')[0]);
}

async function propagation(): Promise<void> {
  await withCluster(3, {}, async (cluster) => {
    const keys = clusterKeys(cluster.namespace);
    const sub = new Redis(REDIS_URL);
    const reader = new Redis(REDIS_URL);
    const lastSeen = new Map<string, string>();
    const origins = new Map<string, string>();
    const delays: number[] = [];
    let pending = Promise.resolve();
    try {
      await sub.subscribe(keys.appliedChannel);
      sub.on('message', (_channel: string, instanceId: string) => {
        const at = Date.now();
        // In order, so a slow HGET cannot reorder two publications of one instance.
        pending = pending.then(async () => {
          const applied = await reader.hget(keys.applied, instanceId);
          if (applied === null || applied === lastSeen.get(instanceId) || !/^\d+-\d+$/.test(applied)) return;
          lastSeen.set(instanceId, applied);
          let origin = origins.get(applied);
          if (origin === undefined) {
            const entry = await reader.xrange(keys.feed, applied, applied);
            const fields = entry[0]?.[1] ?? [];
            const by = fields.indexOf('by');
            origin = by >= 0 ? (fields[by + 1] ?? '') : '';
            origins.set(applied, origin);
          }
          if (origin === instanceId) return; // the writer applying its own entry is not propagation
          delays.push(at - streamMs(applied));
        });
      });
      // One create at a time on A: each entry is applied (and published) on its own.
      for (let i = 0; i < PROPAGATION_CREATES; i++) await create(cluster.at(0), scatteredId('PG', i));
      await sleep(500);
      await pending;
    } finally {
      sub.disconnect();
      reader.disconnect();
    }
    console.log(`propagation  create on A -> applied on B/C (XADD to PUBLISH of the applied position): ${summary(delays)}`);
  });
}

async function createLatency(size: number): Promise<{ sequential: number[]; concurrent: number[]; elapsedMs: number }> {
  return withCluster(size, {}, async (cluster) => {
    // Each instance's first own writes wait out its barrier's first observation (a full TTL): not steady state.
    await cluster.primeWrites();
    const sequential: number[] = [];
    for (let i = 0; i < Math.min(300, LATENCY_CREATES); i++) sequential.push(await create(cluster.at(i % size), scatteredId(`LS${size}`, i)));
    const concurrent: number[] = [];
    const ids = Array.from({ length: LATENCY_CREATES }, (_, i) => scatteredId(`LC${size}`, i));
    const started = performance.now();
    await forEachConcurrent(ids, LATENCY_CONCURRENCY, async (id, i) => {
      concurrent.push(await create(cluster.at(i % size), id));
    });
    return { sequential, concurrent, elapsedMs: performance.now() - started };
  });
}

async function latency(): Promise<void> {
  const one = await createLatency(1);
  const three = await createLatency(3);
  const p50 = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
  const p99 = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.99);
  console.log(`latency      1 instance,  one at a time: ${summary(one.sequential)}`);
  console.log(`latency      3 instances, one at a time: ${summary(three.sequential)}`);
  console.log(`latency      1 instance,  ${LATENCY_CONCURRENCY} in flight: ${summary(one.concurrent)}, ${((LATENCY_CREATES / one.elapsedMs) * 1000).toFixed(0)} creates/s`);
  console.log(`latency      3 instances, ${LATENCY_CONCURRENCY} in flight: ${summary(three.concurrent)}, ${((LATENCY_CREATES / three.elapsedMs) * 1000).toFixed(0)} creates/s`);
  console.log(
    `latency      ratio 3/1: one at a time p50 x${(p50(three.sequential) / p50(one.sequential)).toFixed(2)} p99 x${(p99(three.sequential) / p99(one.sequential)).toFixed(2)}; ` +
      `${LATENCY_CONCURRENCY} in flight p50 x${(p50(three.concurrent) / p50(one.concurrent)).toFixed(2)} p99 x${(p99(three.concurrent) / p99(one.concurrent)).toFixed(2)}`,
  );
}

async function kill(): Promise<void> {
  await withCluster(3, {}, async (cluster) => {
    const [a, b, c] = [cluster.at(0), cluster.at(1), cluster.at(2)];
    await cluster.primeWrites();
    const done: Array<{ startedAt: number; ms: number; ok: boolean }> = [];
    let stop = false;
    let next = 0;
    const lanes = Array.from({ length: KILL_LANES }, async (_, l) => {
      while (!stop) {
        const i = next++;
        const server = (l + i) % 2 === 0 ? a : b;
        const startedAt = performance.now();
        const res = await server.postProduct({ id: scatteredId('KB', i), name: 'k', price: 1 }, 30_000).catch(() => undefined);
        done.push({ startedAt, ms: performance.now() - startedAt, ok: res?.status === 201 });
      }
    });
    await sleep(KILL_AFTER_MS);
    const killedAt = performance.now();
    await c.kill9();
    await sleep(KILL_WRITE_MS);
    stop = true;
    await Promise.all(lanes);
    const before = done.filter((w) => w.startedAt + w.ms < killedAt).map((w) => w.ms);
    const around = done.filter((w) => w.startedAt + w.ms >= killedAt);
    const stalled = around.reduce((max, w) => Math.max(max, w.ms), 0);
    // The longest stretch after the kill with no create acknowledged.
    const acks = around.filter((w) => w.ok).map((w) => w.startedAt + w.ms).sort((x, y) => x - y);
    let gap = (acks[0] ?? killedAt) - killedAt;
    for (let i = 1; i < acks.length; i++) gap = Math.max(gap, (acks[i] ?? 0) - (acks[i - 1] ?? 0));
    console.log(
      `kill         before the kill: ${summary(before)}; after it: longest create ${stalled.toFixed(0)} ms, ` +
        `longest stretch without an acknowledgement ${gap.toFixed(0)} ms, ${around.filter((w) => !w.ok).length} creates not acknowledged`,
    );
  });
}

async function reuseport(): Promise<void> {
  if (!(await wrkAvailable())) {
    console.log('reuseport    skipped: wrk not found');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'cluster-bench-'));
  try {
    // Alternated, so drift of a shared machine's load hits both sides.
    const sizes = Array.from({ length: REUSEPORT_ROUNDS * 2 }, (_, i) => (i % 2 === 0 ? 1 : 2));
    for (const size of sizes) {
      await withCluster(
        size,
        // Readiness on a shared port is each process's own `ready` log line (info).
        { LOG_LEVEL: 'info' },
        async (cluster) => {
          const url = cluster.at(0).url;
          // Warm-up: JIT and connections.
          await runWrk({ url, durationS: 1, connections: WRK_CONNECTIONS, threads: WRK_THREADS, script: getIdsScript('NOPE-', 8, null), dir });
          const pids = cluster.instances.map((s) => s.pid ?? -1);
          const cpuBefore = pids.map(cpuMs);
          const r = await runWrk({ url, durationS: WRK_SECONDS, connections: WRK_CONNECTIONS, threads: WRK_THREADS, script: getIdsScript('NOPE-', 8, null, 5_000_000), dir });
          const used = pids.map((pid, i) => cpuMs(pid) - (cpuBefore[i] ?? 0));
          const totalMs = used.reduce((x, y) => x + y, 0);
          console.log(
            `reuseport    ${size} process${size > 1 ? 'es' : ''} on port ${cluster.port}: ${r.rps.toFixed(0)} rejections/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, p99 ${(r.p99Us / 1000).toFixed(2)} ms, ` +
              `server CPU ${((totalMs * 1000) / r.requests).toFixed(2)} µs/request (${used.map((ms) => `${(ms / 1000 / r.durationS * 100).toFixed(0)}%`).join(' + ')} of a core), ` +
              `non-2xx answers (404 expected) ${r.errors.status} of ${r.requests}, socket errors ${r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout}`,
          );
        },
        true,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function joinTime(): Promise<void> {
  const data = await writeProductsFile(JOIN_IDS);
  try {
    // LOG_LEVEL info: the joiner's own log lines split its start-up into steps.
    const env = { PRODUCTS_FILE: data.productsFile, BLOOM_CAPACITY: String(Math.max(JOIN_IDS, 100_000)), SNAPSHOT_INTERVAL_MS: '1000', LOG_LEVEL: 'info' };
    await withCluster(1, env, async (cluster) => {
      const first = cluster.at(0);
      const firstStats = await first.stats();
      console.log(`join         first instance imported ${firstStats.items} ids (${JSON.stringify(firstStats.load)})`);
      // The joiner restores the shared snapshot: wait until one holds every imported id.
      const started = performance.now();
      for (;;) {
        const snapshot = (await first.stats()).snapshot as { saves?: number } | undefined;
        if ((snapshot?.saves ?? 0) > 0) break;
        if (performance.now() - started > 120_000) throw new Error('no snapshot within 120 s');
        await sleep(100);
      }
      // A few writes after the snapshot, for the catch-up to have something to do.
      for (let i = 0; i < 100; i++) await create(first, scatteredId('JB', i));
      for (let round = 1; round <= JOIN_ROUNDS; round++) {
        const spawnedWall = Date.now();
        const joiner = await cluster.add();
        const spawnedAt = performance.now();
        await joiner.waitHealthy(120_000);
        const readyMs = performance.now() - spawnedAt;
        const stats = await joiner.stats();
        // Wall-clock offsets from the spawn of the service's own log lines (JSON `time`).
        const step = (msg: string): string => {
          const line = joiner.logs.find((l) => l.json?.['msg'] === msg);
          return line === undefined ? '?' : `${Date.parse(String(line.json?.['time'])) - spawnedWall}`;
        };
        console.log(
          `join         round ${round}: spawn to /health 200 ${readyMs.toFixed(0)} ms; from spawn: listening ${step('listening')} ms, ` +
            `joined the cluster ${step('joined the cluster')} ms, ready ${step('ready')} ms; filter load ${JSON.stringify(stats.load)}, items ${stats.items}`,
        );
        await joiner.kill9();
      }
    });
  } finally {
    await data.remove();
  }
}

async function main(): Promise<void> {
  console.log(`cluster-bench on ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.version}, Redis ${REDIS_URL}, PostgreSQL ${DATABASE_URL}`);
  console.log(`command: PHASES=${PHASES.join(',')} npx tsx load/cluster-bench.ts`);
  const run: Record<string, () => Promise<void>> = { propagation, latency, kill, reuseport, join: joinTime };
  for (const phase of PHASES) {
    const fn = run[phase];
    if (fn === undefined) throw new Error(`unknown phase ${phase} (one of ${Object.keys(run).join(', ')})`);
    await fn();
  }
}

await main();
