/**
 * A 4th instance joins a running 3-instance cluster while creates and reads
 * go on. It restores the shared snapshot, applies the feed and the database
 * above it, and only then says ready:
 *
 * - its `/health` answers 503 (or nothing yet: not listening) until it has
 *   joined (its `joined the cluster` log line), then 200;
 * - once ready it never answers 404 for an acknowledged id: it takes reads of
 *   acknowledged ids as part of the load, and at the end every id
 *   acknowledged before, during and after the join is found on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachConcurrent, idsNotFound } from '../helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scatteredId } from '../helpers/ids.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait-for.js';

const PRELOADED_BATCHES = 20;
const BATCH_SIZE = 500;
const WRITE_LANES = 4;
const READ_LANES = 4;
/** Creates wanted after the 4th instance is ready, before the load stops. */
const CREATES_AFTER_READY = 300;

describe('cluster: a 4th instance joining under load', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ size: 3 });
  });

  afterAll(async () => {
    await cluster?.dispose();
  });

  it('says 503 until joined and then rejects no acknowledged id', { timeout: 150_000 }, async () => {
    const acked: string[] = [];
    // Rows the joiner must restore or catch up, not only what the load adds during the join.
    await forEachConcurrent(Array.from({ length: PRELOADED_BATCHES }, (_, b) => b), 2, async (b) => {
      const ids = Array.from({ length: BATCH_SIZE }, (_, j) => scatteredId(`JP${b}`, j));
      const res = await cluster.at(b % 3).request('POST', '/products/batch', {
        body: { products: ids.map((id) => ({ id, name: 'p', price: 1 })) },
        timeoutMs: 20_000,
      });
      expect(res.status, res.text).toBe(200);
      acked.push(...ids);
    });

    const readers: ServerProcess[] = [cluster.at(0), cluster.at(1), cluster.at(2)];
    const badReads: string[] = [];
    const badCreates: string[] = [];
    let stop = false;
    let next = 0;
    let reads = 0;
    let joinerReads = 0;
    const writeLane = async (l: number): Promise<void> => {
      while (!stop) {
        const i = next++;
        const id = scatteredId('JL', i);
        const res = await cluster.at((i + l) % 3).postProduct({ id, name: 'l', price: 1 }, 20_000);
        if (res.status === 201) acked.push(id);
        else badCreates.push(`${id}: ${res.status} ${res.text}`);
      }
    };
    const readLane = async (l: number): Promise<void> => {
      let k = l;
      while (!stop) {
        // Newest acknowledged ids most of the time (the ones a lagging filter would miss), older ones too.
        const n = acked.length;
        const id = k % 2 === 0 ? acked[n - 1 - (k % Math.min(n, 50))] : acked[(k * 7919) % n];
        const server = readers[k % readers.length];
        k++;
        if (id === undefined || server === undefined) continue;
        const res = await server.getProduct(id);
        reads++;
        if (server === readers[3]) joinerReads++;
        if (res.status !== 200) badReads.push(`${id} on port ${server.port}: ${res.status} ${res.text}`);
      }
    };
    const load = [...Array.from({ length: WRITE_LANES }, (_, l) => writeLane(l)), ...Array.from({ length: READ_LANES }, (_, l) => readLane(l))];

    const healthBeforeReady: Array<number | string> = [];
    let joinMs = 0;
    /** Wall clock (as the service's log `time`) when the first 200 arrived. */
    let readyWallMs = 0;
    try {
      const joiner = await cluster.add();
      const spawnedAt = performance.now();
      await waitFor(
        'the 4th instance to say /health 200',
        async () => {
          if (!joiner.isRunning) throw new Error(`the 4th instance exited: ${joiner.tail()}`);
          const status = await joiner.health(1_000).then(
            (r) => r.status,
            () => 'no answer',
          );
          if (status === 200) return true;
          healthBeforeReady.push(status);
          return false;
        },
        60_000,
        25,
      );
      readyWallMs = Date.now();
      joinMs = performance.now() - spawnedAt;
      readers.push(joiner);
      const ackedAtReady = acked.length;
      await waitFor('creates after the join', () => acked.length >= ackedAtReady + CREATES_AFTER_READY, 60_000);
    } finally {
      stop = true;
      await Promise.all(load);
    }

    console.log(
      `join under load: ready ${joinMs.toFixed(0)} ms after spawn, /health before ready: ${summarize(healthBeforeReady)}, ` +
        `${acked.length} acknowledged, ${reads} reads (${joinerReads} on the joiner)`,
    );
    // Before it joined, the joiner answered /health with 503 or not at all (still starting to listen).
    expect(healthBeforeReady.filter((s) => s !== 503 && s !== 'no answer')).toEqual([]);
    // And its first 200 came after it had joined (the join is fast once listening, so a 503 is seldom seen).
    const joined = cluster.at(3).logs.find((line) => /joined the cluster/.test(line.text));
    expect(joined, cluster.at(3).tail()).toBeDefined();
    expect(Date.parse(String(joined?.json?.['time']))).toBeLessThanOrEqual(readyWallMs);
    expect(badCreates.slice(0, 10), cluster.tails()).toEqual([]);
    expect(badReads.slice(0, 10), cluster.tails()).toEqual([]);
    expect(joinerReads).toBeGreaterThan(0);
    const misses = await idsNotFound(cluster.at(3), acked);
    expect(misses.slice(0, 10), 'acknowledged ids the joined instance does not find').toEqual([]);
  });
});

function summarize(statuses: ReadonlyArray<number | string>): string {
  const counts = new Map<number | string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s} x${n}`).join(', ') || 'none';
}
