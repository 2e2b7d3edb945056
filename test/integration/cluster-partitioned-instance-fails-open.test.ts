/**
 * Fail open, never fail closed: one of three instances loses Redis (its TCP
 * proxy black-holes every byte: the connection hangs, as on a dead network
 * path) while the other two go on taking creates. Its feed reader hears
 * nothing and its lease expires; the writers wait out that lease and then
 * acknowledge without it, so its filter lacks the new ids. It must then send
 * lookups on to the database instead of answering 404 from its filter:
 *
 * - every GET on the cut-off instance of an id acknowledged during the
 *   partition is never 404 (other failures, e.g. 503, are counted and printed);
 * - once Redis is reachable again it catches up: every acknowledged id is
 *   found on it, and a create on another instance is found on it at once.
 *
 * An instance that kept rejecting from its filter alone without a valid lease
 * fails the first check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsNotFound } from '../helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scatteredId } from '../helpers/ids.js';
import { SHARED_REDIS_URL } from '../helpers/redis-namespace.js';
import { sleep, type ServerProcess } from '../helpers/server-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';

const WRITE_LANES = 4;
const READ_LANES = 4;
/** Creates acknowledged during the partition before it heals (after the cut-off lease expired). */
const CREATES_DURING_PARTITION = 300;
const HEALED_ROUNDS = 20;

describe('cluster: an instance cut off from Redis fails open', () => {
  let proxy: TcpProxy;
  let cluster: Cluster;

  beforeAll(async () => {
    proxy = await startTcpProxy(Number(new URL(SHARED_REDIS_URL).port || 6379));
    cluster = await startCluster({ size: 2 });
    const cutOff = await cluster.add({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    await cluster.waitReady(cutOff);
  });

  afterAll(async () => {
    proxy?.blackhole(false);
    await cluster?.dispose();
    await proxy?.close();
  });

  it('never answers 404 for an acknowledged id while lease-less, and catches up after', { timeout: 150_000 }, async () => {
    const [a, b, c] = [cluster.at(0), cluster.at(1), cluster.at(2)];
    const acked: string[] = [...(await cluster.primeWrites())];
    const duringPartition: string[] = [];
    const rejections: string[] = [];
    const otherReads = new Map<string, number>();
    const badCreates: string[] = [];
    let partitioned = false;
    let stop = false;
    let next = 0;
    let readsOnC = 0;

    const writeLane = async (l: number): Promise<void> => {
      while (!stop) {
        const i = next++;
        const id = scatteredId('PT', i);
        const server: ServerProcess = (i + l) % 2 === 0 ? a : b;
        const during = partitioned;
        const res = await server.postProduct({ id, name: 'p', price: 1 }, 20_000);
        if (res.status !== 201) {
          badCreates.push(`${id}: ${res.status} ${res.text}`);
          continue;
        }
        acked.push(id);
        if (during) duringPartition.push(id);
      }
    };
    const readLane = async (l: number): Promise<void> => {
      let k = l;
      while (!stop) {
        const n = duringPartition.length;
        const id = duringPartition[n - 1 - (k++ % Math.max(1, Math.min(n, 40)))];
        if (id === undefined) {
          await sleep(10);
          continue;
        }
        try {
          const res = await c.getProduct(id, 10_000);
          readsOnC++;
          if (res.status === 404) rejections.push(`${id}: ${res.text}`);
          else if (res.status !== 200) otherReads.set(String(res.status), (otherReads.get(String(res.status)) ?? 0) + 1);
        } catch (err) {
          otherReads.set((err as Error).name, (otherReads.get((err as Error).name) ?? 0) + 1);
        }
      }
    };
    const load = [...Array.from({ length: WRITE_LANES }, (_, l) => writeLane(l)), ...Array.from({ length: READ_LANES }, (_, l) => readLane(l))];
    try {
      await sleep(500);
      proxy.blackhole(true);
      partitioned = true;
      await waitFor('creates acknowledged during the partition', () => duringPartition.length >= CREATES_DURING_PARTITION, 60_000);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    console.log(
      `partitioned instance: ${duringPartition.length} creates acknowledged while it was cut off, ${readsOnC} reads of them on it, ` +
        `${rejections.length} answered 404, others ${JSON.stringify(Object.fromEntries(otherReads))}`,
    );
    expect(badCreates.slice(0, 10), cluster.tails()).toEqual([]);
    expect(readsOnC).toBeGreaterThan(0);
    expect(rejections.slice(0, 10), c.tail()).toEqual([]);

    // Healed: it reconnects, registers again and catches up; it rejects from its filter again
    // (an absent id answers 404 `bloom_filter`), and from then on its filter holds every acknowledged id.
    proxy.blackhole(false);
    await waitFor(
      'the healed instance to reject from its filter again',
      async () => {
        const res = await c.getProduct(`never-created-${next++}`);
        return res.status === 404 && (res.body as { source?: string } | undefined)?.source === 'bloom_filter';
      },
      30_000,
      100,
    );
    for (let start = 0; start < acked.length; start += 10_000) {
      const ids = acked.slice(start, start + 10_000);
      const checked = await c.request('POST', '/bloom/check', { body: { ids } });
      const results = (checked.body as { results?: boolean[] } | undefined)?.results ?? [];
      expect(ids.filter((_, k) => results[k] !== true).slice(0, 10), 'acknowledged ids the healed filter lacks').toEqual([]);
    }
    const healedProblems: string[] = [];
    for (let r = 0; r < HEALED_ROUNDS; r++) {
      const id = scatteredId('PV', r);
      const created = await (r % 2 === 0 ? a : b).postProduct({ id, name: 'v', price: 1 }, 20_000);
      if (created.status !== 201) {
        healedProblems.push(`${id}: create ${created.status} ${created.text}`);
        continue;
      }
      acked.push(id);
      const read = await c.getProduct(id);
      if (read.status !== 200) healedProblems.push(`${id} on the healed instance: ${read.status} ${read.text}`);
    }
    expect(healedProblems, c.tail()).toEqual([]);
    const misses = await idsNotFound(c, acked);
    expect(misses.slice(0, 10), 'acknowledged ids the healed instance does not find').toEqual([]);
  });
});
