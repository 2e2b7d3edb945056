/**
 * `local`: a micro benchmark of the in-process product cache (issue 12 §1),
 * no servers: LocalProductCache.get on a hit against what a hit costs today
 * (ProductCache.get, a Redis GET + JSON parse, then the body re-serialised),
 * one at a time and BENCH_LOCAL_IN_FLIGHT at a time (auto-pipelined); and the
 * heap that BENCH_LOCAL_ENTRIES hot entries hold; and how long an invalidation
 * takes to reach the local cache: a SET sent on one connection until the
 * entry is dropped by CacheInvalidation (another instance's view of a write),
 * BENCH_LOCAL_INVALIDATIONS times, one at a time.
 *
 *   npm run bench -- local
 *   BENCH_LOCAL_ENTRIES=100000 npm run bench -- local
 *
 * "Allocation-free" is checked, not assumed: the number of V8 garbage
 * collections during BENCH_LOCAL_GETS hits is reported (0 means no allocation
 * reached the young generation's limit).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CacheInvalidation } from '../../src/cache/cache-invalidation.js';
import { LocalProductCache, cacheHitBody } from '../../src/cache/local-product-cache.js';
import type { Product } from '../../src/product.js';
import { ProductCache } from '../../src/store/product-cache.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { existingId } from '../products-file.js';
import { deleteNamespaceKeys, redisReachable, runNamespace } from '../redis-namespace.js';
import { HOT_IDS, REDIS_URL, type Row } from './options.js';
import type { BenchScenario } from './scenario.js';
import { fmtInt, median, quantile } from './stats.js';

/** Entries for the memory figure. */
const ENTRIES = Number(process.env.BENCH_LOCAL_ENTRIES ?? 10_000);
/** Hits per timed get() loop, and for the GC count. */
const GETS = Number(process.env.BENCH_LOCAL_GETS ?? 5_000_000);
/** Sequential Redis lookups per sample. */
const REDIS_SEQUENTIAL = Number(process.env.BENCH_LOCAL_REDIS_SEQUENTIAL ?? 5_000);
/** Concurrent Redis lookups (one connection, auto-pipelined) and how many in all. */
const IN_FLIGHT = Number(process.env.BENCH_LOCAL_IN_FLIGHT ?? 64);
const REDIS_CONCURRENT = Number(process.env.BENCH_LOCAL_REDIS_CONCURRENT ?? 100_000);
/** SET -> local entry dropped, measured this many times. */
const INVALIDATIONS = Number(process.env.BENCH_LOCAL_INVALIDATIONS ?? 2_000);
/** Samples of each figure; the median is reported. */
const SAMPLES = Number(process.env.BENCH_LOCAL_SAMPLES ?? 5);

/** A catalogue-like product: about 100 bytes of body. */
function typicalProduct(i: number): Product {
  return { id: existingId(i), name: `Stainless steel water bottle, 750 ml, model ${i % 977}`, price: 19.99 + (i % 100) };
}

const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Heap plus ArrayBuffer bytes after a full GC (Buffers live outside the V8 heap). */
function heapBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Runs `body`, returning its elapsed ms and how many GCs ran meanwhile. */
async function timedWithGcCount(body: () => number): Promise<{ ms: number; gcs: number; result: number }> {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  const result = body();
  const ms = performance.now() - started;
  await new Promise((resolve) => setImmediate(resolve)); // let the observer deliver
  observer.disconnect();
  return { ms, gcs, result };
}

interface Figures {
  getNs: number[];
  getGcs: number[];
  reinsertNs: number[];
  reinsertGcs: number[];
  redisSequentialUs: number[];
  redisConcurrentOpsPerS: number[];
  invalidationUs: number[];
  bytesPerEntry: number;
  bodyBytesPerEntry: number;
  stringBytesPerEntry: number;
  redis: boolean;
}

let figures: Figures | undefined;

function hitIds(): string[] {
  return Array.from({ length: Math.min(HOT_IDS, ENTRIES) }, (_, i) => existingId(i));
}

async function measureGets(f: Figures): Promise<void> {
  const local = new LocalProductCache({ maxEntries: ENTRIES, maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
  local.resume();
  const ids = hitIds();
  for (let i = 0; i < ids.length; i++) local.fill(local.beginFill(), typicalProduct(i));
  // The alternative the issue names: a Map in insertion order, re-inserted on every hit.
  const lru = new Map<string, Buffer>();
  for (let i = 0; i < ids.length; i++) lru.set(ids[i]!, Buffer.from(cacheHitBody(typicalProduct(i))));
  const n = ids.length;
  for (let s = 0; s < SAMPLES; s++) {
    const a = await timedWithGcCount(() => {
      let bytes = 0;
      for (let i = 0; i < GETS; i++) bytes += local.get(ids[i % n]!)!.byteLength;
      return bytes;
    });
    f.getNs.push((a.ms * 1e6) / GETS);
    f.getGcs.push(a.gcs);
    const b = await timedWithGcCount(() => {
      let bytes = 0;
      for (let i = 0; i < GETS; i++) {
        const id = ids[i % n]!;
        const body = lru.get(id)!;
        lru.delete(id);
        lru.set(id, body);
        bytes += body.byteLength;
      }
      return bytes;
    });
    f.reinsertNs.push((b.ms * 1e6) / GETS);
    f.reinsertGcs.push(b.gcs);
  }
}

async function measureRedis(f: Figures): Promise<void> {
  const namespace = runNamespace('bench-local');
  const redis = RedisConnection.open({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  try {
    await redis.waitReady(5_000);
    const cache = new ProductCache({ redis, namespace, ttlS: 3_600, negativeTtlS: 60 });
    const ids = hitIds();
    await Promise.all(ids.map((_, i) => cache.setProduct(typicalProduct(i))));
    // Today's hit: GET + parse, then the HTTP layer serialises the body again.
    const lookup = async (id: string): Promise<number> => {
      const hit = await cache.get(id);
      return hit.kind === 'product' ? cacheHitBody(hit.product).length : 0;
    };
    for (let s = 0; s < SAMPLES; s++) {
      let started = performance.now();
      for (let i = 0; i < REDIS_SEQUENTIAL; i++) await lookup(ids[i % ids.length]!);
      f.redisSequentialUs.push(((performance.now() - started) * 1000) / REDIS_SEQUENTIAL);
      started = performance.now();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < REDIS_CONCURRENT) await lookup(ids[next++ % ids.length]!);
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      f.redisConcurrentOpsPerS.push((REDIS_CONCURRENT * 1000) / (performance.now() - started));
    }
  } finally {
    await deleteNamespaceKeys(REDIS_URL, namespace).catch(() => 0);
    await redis.close();
  }
}

/** SET on a writer connection -> the entry dropped from a tracked local cache, one write at a time. */
async function measureInvalidation(f: Figures): Promise<void> {
  const namespace = runNamespace('bench-local');
  const redis = RedisConnection.open({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  const writer = RedisConnection.open({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  const local = new LocalProductCache({ maxEntries: 1_000, maxBytes: 1 << 20, maxAgeMs: 3_600_000 });
  let waitingFor = '';
  let arrived: (at: number) => void = () => {};
  const target = {
    invalidate(id: string) {
      local.invalidate(id);
      if (id === waitingFor) arrived(performance.now());
    },
    invalidateAll: () => local.invalidateAll(),
    suspend: () => local.suspend(),
    resume: () => local.resume(),
  };
  const cache = new ProductCache({ redis, namespace, ttlS: 3_600, negativeTtlS: 60 });
  const invalidation = CacheInvalidation.open({ url: REDIS_URL, keys: cache, target, commandTimeoutMs: 5_000 });
  try {
    await Promise.all([redis.waitReady(5_000), writer.waitReady(5_000), invalidation.waitEstablished(5_000)]);
    for (let i = 0; i < INVALIDATIONS; i++) {
      const p = typicalProduct(i % 100);
      waitingFor = p.id;
      const dropped = new Promise<number>((resolve) => {
        arrived = resolve;
      });
      const sent = performance.now();
      await writer.client.set(cache.keyFor(p.id), cacheHitBody(p));
      f.invalidationUs.push(((await dropped) - sent) * 1000);
    }
  } finally {
    await invalidation.close();
    await deleteNamespaceKeys(REDIS_URL, namespace).catch(() => 0);
    await Promise.all([redis.close(), writer.close()]);
  }
}

/** `p` in percent, of unsorted `values`. */
function percentile(values: readonly number[], p: number): number {
  return quantile([...values].sort((a, b) => a - b), p / 100);
}

/** Heap held by ENTRIES entries: the cache itself, then the same bodies as strings for comparison. */
function measureMemory(f: Figures): void {
  let local: LocalProductCache | undefined = new LocalProductCache({ maxEntries: ENTRIES, maxBytes: 1 << 30, maxAgeMs: 3_600_000 });
  local.resume();
  let before = heapBytes();
  // Products built inside, as from Redis replies: only what the cache keeps survives the GC.
  for (let i = 0; i < ENTRIES; i++) local.fill(local.beginFill(), typicalProduct(i));
  f.bytesPerEntry = (heapBytes() - before) / ENTRIES;
  f.bodyBytesPerEntry = local.bytes / local.size;
  local = undefined;
  let strings: Map<string, string> | undefined = new Map();
  before = heapBytes();
  for (let i = 0; i < ENTRIES; i++) {
    const p = typicalProduct(i);
    strings.set(p.id, cacheHitBody(p));
  }
  f.stringBytesPerEntry = (heapBytes() - before) / ENTRIES;
  if (strings.size < 0) console.log(local); // keeps `strings` alive until measured
  strings = undefined;
}

const row = (figure: string, value: string): Row => ({ figure, value, target: '(report)', verdict: '' });

export const localCacheScenario: BenchScenario = {
  name: 'local',
  about: `micro: in-process cache get() hit vs a Redis GET round trip, and heap for ${fmtInt(ENTRIES)} hot entries (no servers)`,
  cases: [],
  async prepare() {
    const f: Figures = {
      getNs: [],
      getGcs: [],
      reinsertNs: [],
      reinsertGcs: [],
      redisSequentialUs: [],
      redisConcurrentOpsPerS: [],
      invalidationUs: [],
      bytesPerEntry: Number.NaN,
      bodyBytesPerEntry: Number.NaN,
      stringBytesPerEntry: Number.NaN,
      redis: await redisReachable(REDIS_URL),
    };
    measureMemory(f);
    await measureGets(f);
    if (f.redis) await measureRedis(f);
    if (f.redis) await measureInvalidation(f);
    figures = f;
  },
  rows() {
    const f = figures;
    if (f === undefined) return [row('local cache', 'pending')];
    const getNs = median(f.getNs);
    const seqUs = median(f.redisSequentialUs);
    const concOps = median(f.redisConcurrentOpsPerS);
    return [
      row(`local get() hit, ${fmtInt(Math.min(HOT_IDS, ENTRIES))} ids (GCs during ${fmtInt(GETS)} gets)`, `${getNs.toFixed(1)} ns (${Math.max(...f.getGcs)})`),
      row(`Map re-insert on hit instead (GCs)`, `${median(f.reinsertNs).toFixed(1)} ns (${Math.max(...f.reinsertGcs)})`),
      row('Redis GET + parse + re-serialise, one at a time', f.redis ? `${seqUs.toFixed(1)} us` : 'no Redis'),
      row(`Redis GET + parse + re-serialise, ${IN_FLIGHT} in flight`, f.redis ? `${fmtInt(concOps)} /s (${(1e6 / concOps).toFixed(2)} us each)` : 'no Redis'),
      row('local get() hit vs one Redis lookup at a time', f.redis ? `${fmtInt((seqUs * 1000) / getNs)}x cheaper` : 'no Redis'),
      row(`local get() hit vs Redis lookups ${IN_FLIGHT} in flight`, f.redis ? `${fmtInt(1e9 / concOps / getNs)}x cheaper` : 'no Redis'),
      row(
        `heap + ArrayBuffers for ${fmtInt(ENTRIES)} entries`,
        `${((f.bytesPerEntry * ENTRIES) / 2 ** 20).toFixed(2)} MiB (${fmtInt(f.bytesPerEntry)} B/entry, body ${fmtInt(f.bodyBytesPerEntry)} B)`,
      ),
      row(
        `SET on another connection -> local entry dropped, p50 / p99 / max (${fmtInt(f.invalidationUs.length)} writes)`,
        f.redis
          ? `${(percentile(f.invalidationUs, 50) / 1000).toFixed(3)} / ${(percentile(f.invalidationUs, 99) / 1000).toFixed(3)} / ${(Math.max(...f.invalidationUs) / 1000).toFixed(3)} ms`
          : 'no Redis',
      ),
      row('the same bodies as a Map of strings, for comparison', `${((f.stringBytesPerEntry * ENTRIES) / 2 ** 20).toFixed(2)} MiB (${fmtInt(f.stringBytesPerEntry)} B/entry)`),
    ];
  },
};
