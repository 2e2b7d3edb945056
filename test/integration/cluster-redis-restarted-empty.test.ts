/**
 * Redis restarted empty in the middle of a 3-instance run (a private
 * redis-server, killed and started again on the same port: the feed, the
 * leases, the epoch and the cache are gone). Creates and reads go on all the
 * time:
 *
 * - creates may fail (503) for a bounded time, but a GET of an acknowledged id
 *   is never answered 404 on any instance, before, during or after;
 * - afterwards everything recovers: every instance is healthy and rejects
 *   from its filter again, every filter holds every acknowledged id, creates
 *   are acknowledged on every instance and read at once on the others, and
 *   every id acknowledged over the whole run is found everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scatteredId } from '../helpers/ids.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { sleep } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait-for.js';

const WRITE_LANES = 4;
const READ_LANES = 4;
const WRITE_BEFORE_RESTART_MS = 1_500;
const CREATES_AFTER_RESTART = 300;
const RECOVERY_ROUNDS = 30;

describe('cluster: Redis restarted empty mid-run', () => {
  let redis: PrivateRedis;
  let cluster: Cluster;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    cluster = await startCluster({ size: 3, redisUrl: redis.url });
  });

  afterAll(async () => {
    await cluster?.dispose();
    await redis?.stop();
  });

  it('never rejects an acknowledged id, and recovers', { timeout: 150_000 }, async () => {
    const acked: string[] = [];
    const rejections: string[] = [];
    const failedCreates = new Map<string, number>();
    const failedReads = new Map<string, number>();
    let restartedAt = Infinity;
    let lastFailedCreateAt = 0;
    let stop = false;
    let next = 0;
    const count = (map: Map<string, number>, key: string): void => {
      map.set(key, (map.get(key) ?? 0) + 1);
    };

    const writeLane = async (l: number): Promise<void> => {
      while (!stop) {
        const i = next++;
        const id = scatteredId('RR', i);
        try {
          const res = await cluster.at((i + l) % 3).postProduct({ id, name: 'r', price: 1 }, 20_000);
          if (res.status === 201) acked.push(id);
          else {
            count(failedCreates, String(res.status));
            lastFailedCreateAt = performance.now();
          }
        } catch (err) {
          count(failedCreates, (err as Error).name);
          lastFailedCreateAt = performance.now();
        }
      }
    };
    const readLane = async (l: number): Promise<void> => {
      let k = l;
      while (!stop) {
        const n = acked.length;
        const id = k % 2 === 0 ? acked[n - 1 - (k % Math.min(n, 50))] : acked[(k * 7919) % n];
        const server = cluster.at(k % 3);
        k++;
        if (id === undefined) {
          await sleep(5);
          continue;
        }
        try {
          const res = await server.getProduct(id);
          if (res.status === 404) rejections.push(`${id} on port ${server.port}: ${res.text}`);
          else if (res.status !== 200) count(failedReads, String(res.status));
        } catch (err) {
          count(failedReads, (err as Error).name);
        }
      }
    };
    // Writes at full speed before the restart: an instance's first own writes wait out a full TTL.
    acked.push(...(await cluster.primeWrites()));
    const load = [...Array.from({ length: WRITE_LANES }, (_, l) => writeLane(l)), ...Array.from({ length: READ_LANES }, (_, l) => readLane(l))];
    try {
      await sleep(WRITE_BEFORE_RESTART_MS);
      restartedAt = performance.now();
      await redis.restart();
      const ackedAtRestart = acked.length;
      await waitFor('creates acknowledged after the restart', () => acked.length >= ackedAtRestart + CREATES_AFTER_RESTART, 60_000);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    const writesFailedForMs = lastFailedCreateAt > restartedAt ? lastFailedCreateAt - restartedAt : 0;
    console.log(
      `Redis restarted empty: ${acked.length} acknowledged, creates not acknowledged ${JSON.stringify(Object.fromEntries(failedCreates))} ` +
        `(last ${writesFailedForMs.toFixed(0)} ms after the restart), reads not 200/404 ${JSON.stringify(Object.fromEntries(failedReads))}`,
    );
    expect(rejections.slice(0, 10), cluster.tails()).toEqual([]);

    // Recovery: every instance healthy and rejecting from its filter again (lease, catch-up),
    // then creates on each one read at once on the others.
    await cluster.waitAllHealthy(30_000);
    let probe = 0;
    for (const server of cluster.instances) {
      await waitFor(
        `port ${server.port} to reject from its filter again`,
        async () => {
          const res = await server.getProduct(`never-created-${probe++}`);
          return res.status === 404 && (res.body as { source?: string } | undefined)?.source === 'bloom_filter';
        },
        30_000,
      );
    }
    const recoveryProblems: string[] = [];
    for (let r = 0; r < RECOVERY_ROUNDS; r++) {
      const id = scatteredId('RV', r);
      const created = await cluster.at(r % 3).postProduct({ id, name: 'v', price: 1 }, 20_000);
      if (created.status !== 201) {
        recoveryProblems.push(`${id}: create ${created.status} ${created.text}`);
        continue;
      }
      acked.push(id);
      for (const s of [1, 2]) {
        const read = await cluster.at((r + s) % 3).getProduct(id);
        if (read.status !== 200) recoveryProblems.push(`${id} on ${(r + s) % 3}: ${read.status} ${read.text}`);
      }
    }
    expect(recoveryProblems, cluster.tails()).toEqual([]);
    for (const server of cluster.instances) {
      // It may reject alone now, so its filter must hold every acknowledged id.
      const checked = await server.request('POST', '/bloom/check', { body: { ids: acked } });
      const results = (checked.body as { results?: boolean[] } | undefined)?.results ?? [];
      expect(acked.filter((_, k) => results[k] !== true).slice(0, 10), `acknowledged ids the filter on port ${server.port} lacks`).toEqual([]);
      const misses = await idsNotFound(server, acked);
      expect(misses.slice(0, 10), `acknowledged ids missing on port ${server.port}`).toEqual([]);
    }
  });
});
