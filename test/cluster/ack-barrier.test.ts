import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AckBarrier } from '../../src/cluster/ack-barrier.js';
import { ChangeFeed } from '../../src/cluster/change-feed.js';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { InstanceLease } from '../../src/cluster/lease.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

const TTL_MS = 800;
const clock = (): number => performance.now();

function lease(client: Redis, namespace: string, instanceId: string, catchUp: () => Promise<void> = async () => {}): InstanceLease {
  return new InstanceLease({ client, namespace, instanceId, ttlMs: TTL_MS, renewEveryMs: 150, marginMs: 200, catchUp });
}

describe('AckBarrier with three instances', () => {
  let client: Redis;
  const namespaces: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  beforeAll(() => {
    client = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const ns of namespaces.splice(0)) await deleteClusterKeys(client, ns);
  });
  afterAll(async () => {
    await client.quit();
  });

  async function cluster(pollMs = 50): Promise<{ ns: string; feed: ChangeFeed; barrier: AckBarrier; alive: InstanceLease }> {
    const ns = uniqueNamespace('ack');
    namespaces.push(ns);
    const writer = lease(client, ns, 'writer');
    const alive = lease(client, ns, 'alive');
    writer.start();
    alive.start();
    closers.push(() => writer.close(), () => alive.close());
    const barrier = new AckBarrier({ client, subscriber: client.duplicate(), namespace: ns, ttlMs: TTL_MS, selfId: 'writer', pollMs });
    closers.push(() => barrier.close());
    await waitFor('both leases', () => writer.mayRejectFromFilter() && alive.mayRejectFromFilter());
    await barrier.prime(); // the first observation of the epoch waits a TTL
    return { ns, feed: new ChangeFeed(client, ns), barrier, alive };
  }

  it('a dead instance delays the acknowledgement until its lease has expired, no longer', async () => {
    const { ns, feed, barrier, alive } = await cluster();
    const dead = lease(client, ns, 'dead');
    await dead.renew(); // registered once, then never renews again (kill -9)
    const entry = await feed.publish({ op: 'create', ids: ['p'], position: 1 });
    alive.setApplied(entry);
    const started = clock();
    const result = await barrier.waitApplied(entry, started + 10 * TTL_MS);
    console.log(`[ack-barrier] a dead instance held the write for ${(clock() - started).toFixed(0)} ms with a ${TTL_MS} ms lease`);
    expect(result).toEqual({ acknowledged: true });
    // Acknowledging earlier would leave a live filter that may reject 'p'.
    expect(await client.pttl(clusterKeys(ns).lease('dead'))).toBe(-2);
  });

  it('a slow instance is waited for until it has applied the entry (woken by pub/sub)', async () => {
    const { feed, barrier, alive } = await cluster(60_000); // polling out of the picture
    const entry = await feed.publish({ op: 'create', ids: ['q'], position: 1 });
    const events: string[] = [];
    const waiting = barrier.waitApplied(entry, clock() + 30_000).then((r) => {
      events.push('acknowledged');
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 3 * TTL_MS)); // longer than any lease: alive keeps renewing
    events.push('applied');
    alive.setApplied(entry);
    expect(await waiting).toEqual({ acknowledged: true });
    expect(events).toEqual(['applied', 'acknowledged']);
  });

  it('gives up at the deadline naming the instance it waited for', async () => {
    const { feed, barrier } = await cluster();
    const entry = await feed.publish({ op: 'create', ids: ['r'], position: 1 });
    expect(await barrier.waitApplied(entry, clock() + 200)).toEqual({ acknowledged: false, waitingFor: ['alive'], reason: 'deadline' });
  });

  it('an instance that leaves gracefully is not waited for', async () => {
    const { feed, barrier, alive } = await cluster();
    const entry = await feed.publish({ op: 'create', ids: ['s'], position: 1 });
    await alive.close();
    const started = clock();
    expect(await barrier.waitApplied(entry, started + 10 * TTL_MS)).toEqual({ acknowledged: true });
  });
});

describe('AckBarrier when Redis loses its data (private redis-server)', () => {
  let server: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    server = await startPrivateRedis();
    client = new Redis(server.url);
    client.on('error', () => {}); // the server is stopped on purpose below
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  it('FLUSHALL: holders go fail-open and rejoin with a catch-up; the writer waits a full TTL before acknowledging', async () => {
    const ns = uniqueNamespace('flush');
    const seenWhileCatchingUp: boolean[] = [];
    const holder: InstanceLease = lease(client, ns, 'holder', async () => {
      seenWhileCatchingUp.push(holder.mayRejectFromFilter());
    });
    holder.start();
    const barrier = new AckBarrier({ client, subscriber: client.duplicate(), namespace: ns, ttlMs: TTL_MS, selfId: 'writer' });
    try {
      await waitFor('the holder closes', () => holder.mayRejectFromFilter());
      await barrier.prime();
      const epoch = holder.epoch;
      const changesBefore = barrier.epochChanges;

      const flushedAt = clock();
      await client.flushall();
      const feed = new ChangeFeed(client, ns);
      const entry = await feed.publish({ op: 'create', ids: ['after-flush'], position: 1 });
      await waitFor('the holder rejoins', () => holder.registrations === 2 && holder.epoch !== epoch);
      holder.setApplied(entry);
      const result = await barrier.waitApplied(entry, clock() + 20 * TTL_MS);
      const acknowledgedAt = clock();

      expect(result).toEqual({ acknowledged: true });
      expect(barrier.epochChanges).toBeGreaterThan(changesBefore);
      // Leases granted before the flush are invisible; only a full TTL outlasts them.
      expect(acknowledgedAt - flushedAt).toBeGreaterThanOrEqual(TTL_MS);
      expect(seenWhileCatchingUp.every((mayReject) => !mayReject)).toBe(true);
      await waitFor('the holder closes again after its catch-up', () => holder.mayRejectFromFilter());
    } finally {
      await barrier.close();
      await holder.close();
    }
  });

  it('a holder that cannot reach Redis fails open when its own view of the lease ends', async () => {
    const ns = uniqueNamespace('down');
    const own = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 200 });
    own.on('error', () => {}); // refused reconnects while the server is down are the point
    const holder = new InstanceLease({
      client: own,
      namespace: ns,
      instanceId: 'h',
      ttlMs: TTL_MS,
      renewEveryMs: 150,
      marginMs: 200,
      catchUp: async () => {},
    });
    holder.start();
    await waitFor('the holder closes', () => holder.mayRejectFromFilter());
    await server.stop();
    await waitFor('fail open', () => !holder.mayRejectFromFilter());
    await server.restart();
    await waitFor('rejoined', () => holder.mayRejectFromFilter());
    expect(holder.registrations).toBe(2); // an empty server: a new epoch, a rejoin with its catch-up
    await holder.close();
    own.disconnect();
  });
});
