/**
 * The negative cache across instances (issue 11, section 4). Instance A sees
 * a filter false positive, the database says absent, A writes a negative
 * marker; then B creates that id. From B's 201 on, a GET on A or on C must
 * find the product: never 404 (`negative_cache` or any other source).
 *
 * The ids are real filter false positives: candidates never created that
 * `POST /bloom/check` reports as "may exist" (a small, well-filled filter
 * makes them common). Each id goes through GET on A, create on B, GETs on A
 * and C, thousands of times with concurrency; every other id starts its GET
 * on A just before the create instead of before it (the marker write races
 * the create). Each instance reaches Redis through a TCP proxy (A and C
 * share one, B has its own) that delays every chunk in some phases: all fast,
 * all slow, A and C slow (their marker writes, feed reads and cache
 * invalidations land late), B slow (its product write and feed entry do).
 *
 * The test also counts how often A's marker was still in Redis when B's 201
 * arrived (read directly, beside the GETs): that is the race the rule in
 * src/cluster/recent-creates.ts is for.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachConcurrent } from '../helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scatteredId } from '../helpers/ids.js';
import { SHARED_REDIS_URL } from '../helpers/redis-namespace.js';
import type { HttpResult } from '../helpers/server-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** A small filter, filled to 3/4: about one absent id in eight is a false positive. */
const CAPACITY = 8_000;
const FPR = 0.2;
const MEMBERS = 6_000;
const CANDIDATES = 30_000;
const CHECK_CHUNK = 10_000;
interface Phase {
  /** Delay of each chunk, each way, on A's and C's proxy and on B's (ms). */
  readonly slowAC: number;
  readonly slowB: number;
  readonly iterations: number;
}
/** Thousands in all, fewer where Redis is slow. */
const PHASES: readonly Phase[] = [
  { slowAC: 0, slowB: 0, iterations: 1_200 },
  { slowAC: 5, slowB: 5, iterations: 300 },
  { slowAC: 40, slowB: 0, iterations: 150 },
  { slowAC: 0, slowB: 40, iterations: 100 },
];
const CONCURRENCY = 8;

describe('cluster: a negative marker never hides a create made on another instance', () => {
  let proxyAC: TcpProxy;
  let proxyB: TcpProxy;
  let cluster: Cluster;
  let direct: Redis;

  beforeAll(async () => {
    const redisPort = Number(new URL(SHARED_REDIS_URL).port || 6379);
    proxyAC = await startTcpProxy(redisPort);
    proxyB = await startTcpProxy(redisPort);
    direct = new Redis(SHARED_REDIS_URL);
    cluster = await startCluster({
      size: 0,
      // A fixed seed: the same ids are false positives on every run.
      env: { BLOOM_CAPACITY: String(CAPACITY), BLOOM_FPR: String(FPR), NEGATIVE_TTL_S: '300', HASH_SEED: '0x5eed1234' },
    });
    for (const proxy of [proxyAC, proxyB, proxyAC]) {
      const server = await cluster.add({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
      await cluster.waitReady(server);
    }
  });

  afterAll(async () => {
    proxyAC?.setDelay(0);
    proxyB?.setDelay(0);
    await cluster?.dispose();
    await proxyAC?.close();
    await proxyB?.close();
    direct?.disconnect();
  });

  it('GET on A, create on B, GETs on A and C: never 404 after the 201', { timeout: 170_000 }, async () => {
    const [a, b, c] = [cluster.at(0), cluster.at(1), cluster.at(2)];
    for (let start = 0; start < MEMBERS; start += 1_000) {
      const ids = Array.from({ length: 1_000 }, (_, j) => scatteredId('NM', start + j));
      const res = await b.request('POST', '/products/batch', { body: { products: ids.map((id) => ({ id, name: 'm', price: 1 })) }, timeoutMs: 20_000 });
      expect(res.status, res.text).toBe(200);
    }

    const falsePositives: string[] = [];
    for (let start = 0; start < CANDIDATES; start += CHECK_CHUNK) {
      const ids = Array.from({ length: CHECK_CHUNK }, (_, j) => scatteredId('NF', start + j));
      const res = await a.request('POST', '/bloom/check', { body: { ids } });
      const results = (res.body as { results?: boolean[] } | undefined)?.results ?? [];
      ids.forEach((id, k) => {
        if (results[k] === true) falsePositives.push(id);
      });
    }
    const needed = PHASES.reduce((sum, phase) => sum + phase.iterations, 0);
    console.log(`negative cache: ${falsePositives.length} false positives among ${CANDIDATES} absent ids (need ${needed})`);
    expect(falsePositives.length).toBeGreaterThanOrEqual(needed);

    const hidden: string[] = [];
    const unexpected: string[] = [];
    const firstSources = new Map<string, number>();
    /** Times A's negative marker was still in Redis when B's 201 arrived: the race the rule is for. */
    let markersAfter201 = 0;
    let used = 0;
    for (const { slowAC, slowB, iterations } of PHASES) {
      proxyAC.setDelay(slowAC);
      proxyB.setDelay(slowB);
      const delay = `A/C ${slowAC} ms, B ${slowB} ms`;
      const ids = falsePositives.slice(used, used + iterations);
      used += iterations;
      await forEachConcurrent(ids, CONCURRENCY, async (id, i) => {
        const overlapped = i % 2 === 1;
        // Sequential: A's GET (and its marker write) completes before the create.
        // Overlapped: A's GET is in flight while B creates; its answer may be either.
        const firstGet = a.getProduct(id, 20_000);
        if (!overlapped) {
          const first = await firstGet;
          const source = (first.body as { source?: string } | undefined)?.source ?? '?';
          firstSources.set(`${first.status} ${source}`, (firstSources.get(`${first.status} ${source}`) ?? 0) + 1);
          if (first.status !== 404) unexpected.push(`${id}: first GET on A ${first.status} ${first.text}`);
        }
        const created = await b.postProduct({ id, name: 'fp', price: 2 }, 20_000);
        if (overlapped) await firstGet;
        if (created.status !== 201) {
          unexpected.push(`${id}: create on B ${created.status} ${created.text}`);
          return;
        }
        const [marker, ...after]: [string | null, ...HttpResult[]] = await Promise.all([
          direct.get(`bloom:cache:${cluster.namespace}:${id}`),
          a.getProduct(id, 20_000),
          c.getProduct(id, 20_000),
        ]);
        if (marker === '!absent') markersAfter201++;
        after.forEach((r, k) => {
          if (r.status !== 200) hidden.push(`${id} (${delay}) on ${k === 0 ? 'A' : 'C'}: ${r.status} ${r.text}`);
        });
        // And once more on A: a marker landing late must not win either.
        const again = await a.getProduct(id, 20_000);
        if (again.status !== 200) hidden.push(`${id} (${delay}) on A, second read: ${again.status} ${again.text}`);
      });
    }
    console.log(
      `negative cache: first GETs on A ${JSON.stringify(Object.fromEntries(firstSources))}, ` +
        `marker still in Redis after the 201 ${markersAfter201} times, ${hidden.length} hidden creates`,
    );
    expect(hidden.slice(0, 10), cluster.tails()).toEqual([]);
    expect(unexpected.slice(0, 10)).toEqual([]);
  });
});
