/**
 * The cluster's first promise, "once any instance has acknowledged a create, no
 * instance's filter rejects that id", with three real processes on one
 * PostgreSQL database and one Redis namespace:
 *
 * - single creates: a POST on one instance, then at once (the next request
 *   after the 201) a GET of the same id on ANOTHER instance, thousands of
 *   times with concurrency, every one found;
 * - batch creates: as soon as a batch is answered, every id of it is found on
 *   every instance, and every instance's filter says "may exist" for each.
 *
 * Without the ack barrier (a create acknowledged before the other instances
 * applied the feed entry) the GET on the other instance races the feed and
 * answers 404 `bloom_filter`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachConcurrent } from '../helpers/bulk-lookup.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { scatteredId } from '../helpers/ids.js';
import type { HttpResult } from '../helpers/server-process.js';

const SINGLE_CREATES = 2_000;
const CONCURRENCY = 12;
const BATCHES = 120;
const BATCH_SIZE = 20;

describe('cluster: a create on one instance is found on every other at once', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ size: 3 });
  });

  afterAll(async () => {
    await cluster?.dispose();
  });

  it(`${SINGLE_CREATES} creates, each read at once on another instance: all found`, { timeout: 120_000 }, async () => {
    const ids = Array.from({ length: SINGLE_CREATES }, (_, i) => scatteredId('XC', i));
    const createFailures: string[] = [];
    const misses: string[] = [];
    const latencies: number[] = [];
    await forEachConcurrent(ids, CONCURRENCY, async (id, i) => {
      const writer = cluster.at(i % 3);
      const reader = cluster.at((i + 1 + (i % 2)) % 3); // the other two, alternately
      const created = await writer.postProduct({ id, name: `n${i}`, price: 1 }, 15_000);
      latencies.push(created.ms);
      if (created.status !== 201) {
        createFailures.push(`${id} on ${i % 3}: ${created.status} ${created.text}`);
        return;
      }
      const read = await reader.getProduct(id);
      if (read.status !== 200) misses.push(`${id}: ${read.status} ${read.text}`);
    });
    latencies.sort((a, b) => a - b);
    console.log(
      `cross-instance read after create: ${SINGLE_CREATES} creates, create p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, ` +
        `p99 ${latencies[Math.floor(latencies.length * 0.99)]?.toFixed(1)} ms, misses ${misses.length}`,
    );
    expect(createFailures, cluster.tails()).toEqual([]);
    expect(misses, 'acknowledged ids answered other than 200 on another instance').toEqual([]);
  });

  it(`${BATCHES} batches of ${BATCH_SIZE}: every id of an answered batch is found on every instance at once`, { timeout: 120_000 }, async () => {
    const problems: string[] = [];
    const batches = Array.from({ length: BATCHES }, (_, b) => Array.from({ length: BATCH_SIZE }, (__, j) => scatteredId(`XB${b}`, j)));
    await forEachConcurrent(batches, 6, async (ids, b) => {
      const writer = cluster.at(b % 3);
      const res = await writer.request('POST', '/products/batch', {
        body: { products: ids.map((id) => ({ id, name: 'b', price: 2 })) },
        timeoutMs: 15_000,
      });
      const body = res.body as { created?: number; conflicts?: string[] } | undefined;
      if (res.status !== 200 || body?.created !== BATCH_SIZE) {
        problems.push(`batch ${b}: ${res.status} ${res.text}`);
        return;
      }
      // Right after the answer, on every instance (the writer too), all at once: the filter check and every GET.
      await Promise.all(
        cluster.instances.map(async (server, s) => {
          const [checked, ...reads]: HttpResult[] = await Promise.all([
            server.request('POST', '/bloom/check', { body: { ids } }),
            ...ids.map((id) => server.getProduct(id)),
          ]);
          const results = (checked?.body as { results?: boolean[] } | undefined)?.results ?? [];
          const rejected = ids.filter((_, k) => results[k] !== true);
          if (rejected.length > 0) problems.push(`batch ${b}: instance ${s}'s filter rejects ${rejected.length} ids, e.g. ${rejected[0]}`);
          reads.forEach((r, k) => {
            if (r.status !== 200) problems.push(`batch ${b}: ${ids[k]} on instance ${s}: ${r.status} ${r.text}`);
          });
        }),
      );
    });
    expect(problems.slice(0, 20), cluster.tails()).toEqual([]);
  });
});
