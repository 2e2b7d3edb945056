/**
 * The cluster promise with the building blocks put together (no HTTP yet):
 * once a create is acknowledged, every instance either has the id in its
 * filter or does not reject from its filter (fail open). Three simulated
 * instances share the real Redis and a fake database; one loses its feed
 * connection half-way, and its lease lapses and comes back in another run.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckBarrier } from '../../src/cluster/ack-barrier.js';
import { ChangeFeed, FeedReader } from '../../src/cluster/change-feed.js';
import { DatabaseCatchUp, type CatchUpSource } from '../../src/cluster/database-catch-up.js';
import { InstanceLease } from '../../src/cluster/lease.js';
import { STREAM_START } from '../../src/cluster/stream-id.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys, killClientsNamed } from './cluster-namespace.js';

const TTL_MS = 900;

class FakeDatabase implements CatchUpSource {
  readonly rows: string[] = []; // position = index (one writer: commit order)
  async horizon(): Promise<number> {
    return this.rows.length;
  }
  async *idsFrom(from: number, pageSize: number): AsyncIterable<readonly string[]> {
    for (let i = from; i < this.rows.length; i += pageSize) yield this.rows.slice(i, Math.min(i + pageSize, this.rows.length));
  }
}

interface Instance {
  readonly id: string;
  readonly filter: Set<string>;
  readonly lease: InstanceLease;
  readonly reader: FeedReader;
}

describe('an acknowledged create is in every filter that may reject', () => {
  let client: Redis;
  const ns = uniqueNamespace('promise');
  const db = new FakeDatabase();
  const instances: Instance[] = [];
  let barrier: AckBarrier;

  function instance(id: string): Instance {
    const filter = new Set<string>();
    const catchUp = new DatabaseCatchUp({ source: db, from: 0, add: (ids) => ids.forEach((x) => filter.add(x)) });
    const reader = new FeedReader({
      url: SHARED_REDIS_URL,
      namespace: ns,
      from: STREAM_START,
      blockMs: 200,
      watchdogMarginMs: 300,
      connectionName: `reader-${ns}-${id}`,
      apply: async (entries) => {
        for (const e of entries) if (e.op === 'create') e.ids.forEach((x) => filter.add(x));
      },
      recover: async () => {
        await catchUp.run();
      },
      onApplied: (entryId) => lease.setApplied(entryId),
    });
    const lease: InstanceLease = new InstanceLease({
      client,
      namespace: ns,
      instanceId: id,
      ttlMs: TTL_MS,
      renewEveryMs: 150,
      marginMs: 250,
      catchUp: async () => {
        await catchUp.run();
      },
      isCaughtUp: () => reader.caughtUp,
    });
    reader.start();
    lease.start();
    return { id, filter, lease, reader };
  }

  beforeAll(async () => {
    client = new Redis(SHARED_REDIS_URL);
    for (const id of ['a', 'b', 'c']) instances.push(instance(id));
    barrier = new AckBarrier({ client, subscriber: client.duplicate(), namespace: ns, ttlMs: TTL_MS, selfId: 'a' });
    await waitFor('every instance closed', () => instances.every((i) => i.lease.mayRejectFromFilter()));
    await barrier.prime();
  });

  afterAll(async () => {
    await barrier.close();
    for (const i of instances) {
      await i.reader.close();
      await i.lease.close();
    }
    await deleteClusterKeys(client, ns);
    await client.quit();
  });

  it('holds for 300 creates through a feed reconnect and a lapsed lease', async () => {
    const writer = instances[0];
    if (writer === undefined) throw new Error('no writer');
    const feed = new ChangeFeed(client, ns);
    let violations = 0;
    let failOpenSeen = 0;
    const latencies: number[] = [];
    for (let n = 0; n < 300; n++) {
      const started = performance.now();
      const id = `p${n}`;
      // commit -> own filter -> publish -> wait for the others -> acknowledge
      db.rows.push(id);
      writer.filter.add(id);
      const entry = await feed.publish({ op: 'create', ids: [id], position: db.rows.length - 1 });
      if (n === 100) await killClientsNamed(client, `reader-${ns}-b`);
      if (n === 200) {
        // c stops renewing for longer than its lease (a long pause), then resumes.
        await client.del(`bloom:lease:${ns}:c`);
      }
      const result = await barrier.waitApplied(entry, performance.now() + 10 * TTL_MS);
      expect(result).toEqual({ acknowledged: true });
      if (n !== 100 && n !== 200) latencies.push(performance.now() - started);
      for (const i of instances) {
        const rejects = i.lease.mayRejectFromFilter();
        if (!rejects) failOpenSeen++;
        if (rejects && !i.filter.has(id)) violations++;
      }
    }
    expect(violations).toBe(0);
    latencies.sort((x, y) => x - y);
    const at = (q: number): string => (latencies[Math.floor(q * (latencies.length - 1))] ?? 0).toFixed(2);
    console.log(
      `[promise] 300 acknowledged creates, 0 violations, ${failOpenSeen} checks saw an instance failing open; ` +
        `publish + barrier with 2 other instances: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms ` +
        `(npx vitest run --config test/vitest.config.ts test/cluster/acknowledged-create-is-in-every-closed-filter.test.ts)`,
    );
  });
});
