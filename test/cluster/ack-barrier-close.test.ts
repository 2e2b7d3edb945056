/**
 * Shutdown must not hang on a black-holed Redis: the barrier's subscriber has no
 * command timeout and no heartbeat, so a QUIT written to a silent socket never
 * answers. close() bounds it (quitOrCut) and resolves. It also ends prime()'s
 * wait, whose timer would otherwise keep the process alive for a lease TTL.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckBarrier } from '../../src/cluster/ack-barrier.js';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

describe('AckBarrier.close', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await client.quit();
  });

  it('resolves while its subscriber connection is black-holed', async () => {
    const proxy = await startTcpProxy(Number(new URL(SHARED_REDIS_URL).port || 6379));
    const ns = uniqueNamespace('ack-close');
    // Options as src/service/cluster.ts opens it: queues while connecting, no command timeout.
    const subscriber = new Redis(`redis://127.0.0.1:${proxy.port}`, { enableOfflineQueue: true, enableAutoPipelining: false });
    subscriber.on('error', () => {});
    const barrier = new AckBarrier({ client, subscriber, namespace: ns, ttlMs: 800, selfId: 'writer' });
    try {
      await barrier.waitApplied('0-1', performance.now() + 100); // subscribes on first use
      const channel = clusterKeys(ns).appliedChannel;
      await waitFor('subscribed', async () => {
        const [, count] = (await client.pubsub('NUMSUB', channel)) as [string, number];
        return Number(count) === 1;
      });
      proxy.blackhole(true); // the socket stays open, nothing answers
      const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 8_000).unref());
      expect(await Promise.race([barrier.close().then(() => 'closed' as const), hung])).toBe('closed');
    } finally {
      subscriber.disconnect();
      await proxy.close();
    }
  });

  it("ends prime()'s quiet-period wait, so no timer outlives the barrier", async () => {
    const ns = uniqueNamespace('ack-prime');
    const barrier = new AckBarrier({ client, namespace: ns, ttlMs: 60_000, selfId: 'writer' });
    const primed = barrier.prime(); // the first observation of the epoch: a full TTL of quiet
    await waitFor('the quiet period to begin', () => barrier.quietUntil > 0);
    await barrier.close();
    const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 8_000).unref());
    expect(await Promise.race([primed.then(() => 'resolved' as const), hung])).toBe('resolved');
    await deleteClusterKeys(client, ns);
  });
});
