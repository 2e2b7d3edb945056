import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheInvalidation } from '../../src/cache/cache-invalidation.js';
import { LocalProductCache } from '../../src/cache/local-product-cache.js';
import type { Product } from '../../src/product.js';
import { ProductCache } from '../../src/store/product-cache.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';

const product = (i: number): Product => ({ id: `SKU-${i}`, name: `Product ${i}`, price: i + 0.5 });

/** One instance's view: its data connection, Redis cache, local cache and invalidation. */
interface Instance {
  readonly redis: RedisConnection;
  readonly cache: ProductCache;
  readonly local: LocalProductCache;
  readonly invalidation: CacheInvalidation;
  /** The fill protocol the guard will use: ticket, GET on the data connection, fill. */
  lookup(id: string): Promise<Buffer | undefined>;
  /** setProduct, then waits for its own invalidation, which would otherwise refuse the next fill. */
  put(product: Product): Promise<void>;
  close(): Promise<void>;
}

async function openInstance(url: string, namespace: string, commandTimeoutMs = 2_000): Promise<Instance> {
  const redis = RedisConnection.open({ url, commandTimeoutMs });
  await redis.waitReady(5_000);
  const cache = new ProductCache({ redis, namespace, ttlS: 300, negativeTtlS: 60 });
  const local = new LocalProductCache({ maxEntries: 1_000, maxBytes: 1 << 20, maxAgeMs: 60_000 });
  const invalidation = CacheInvalidation.open({ url, keys: cache, target: local, commandTimeoutMs, checkIntervalMs: 100 });
  await invalidation.waitEstablished(10_000);
  return {
    redis,
    cache,
    local,
    invalidation,
    async lookup(id) {
      const hit = local.get(id);
      if (hit !== undefined) return hit;
      const ticket = local.beginFill();
      const cached = await cache.get(id);
      if (cached.kind === 'product') local.fill(ticket, cached.product);
      return local.get(id);
    },
    async put(p) {
      const seen = invalidation.stats.keysInvalidated;
      await cache.setProduct(p);
      await waitFor(`the invalidation of ${p.id}`, () => invalidation.stats.keysInvalidated > seen);
    },
    async close() {
      await invalidation.close();
      await redis.close();
    },
  };
}

describe('CacheInvalidation on the shared Redis', () => {
  let namespace: string;
  let instance: Instance;
  let other: Redis;

  beforeAll(() => {
    other = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await other.quit();
  });
  beforeEach(async () => {
    namespace = uniqueNamespace('local');
    instance = await openInstance(SHARED_REDIS_URL, namespace);
  });
  afterEach(async () => {
    await instance.close();
    await deleteNamespaceKeys(other, namespace);
  });

  it('registers BCAST tracking for the namespace prefix, redirected to the subscriber', async () => {
    const { subscriber, tracker } = instance.invalidation.clientIds;
    expect(subscriber).toBeTypeOf('number');
    const info = (await other.call('CLIENT', 'LIST', 'ID', String(tracker))) as string;
    expect(info).toMatch(/flags=\S*t/); // t: tracking on
    expect(instance.invalidation.prefix).toBe(`bloom:cache:${namespace}:`);
  });

  it('fills on a Redis hit, then hits locally with the same Buffer', async () => {
    await instance.put(product(1));
    const first = await instance.lookup('SKU-1');
    expect(JSON.parse(first!.toString())).toEqual({ ...product(1), source: 'cache' });
    expect(instance.local.size).toBe(1);
    expect(await instance.lookup('SKU-1')).toBe(first);
  });

  it('drops the entry when another client SETs or DELs the key (BCAST: reads never went through the tracker)', async () => {
    await instance.put(product(1));
    await instance.put(product(2));
    await instance.lookup('SKU-1');
    await instance.lookup('SKU-2');
    expect(instance.local.size).toBe(2);

    await other.set(instance.cache.keyFor('SKU-1'), JSON.stringify({ ...product(1), price: 99 }));
    await waitFor('the SET to invalidate SKU-1', () => instance.local.get('SKU-1') === undefined);
    expect(instance.local.get('SKU-2')).toBeDefined();
    expect(JSON.parse((await instance.lookup('SKU-1'))!.toString()).price).toBe(99);

    await other.del(instance.cache.keyFor('SKU-2'));
    await waitFor('the DEL to invalidate SKU-2', () => instance.local.get('SKU-2') === undefined);
    expect(await instance.lookup('SKU-2')).toBeUndefined();
  });

  it('ignores keys of other namespaces', async () => {
    const otherNamespace = uniqueNamespace('local');
    await instance.put(product(1));
    await instance.lookup('SKU-1');
    const before = instance.invalidation.stats.keysInvalidated;
    await other.set(`bloom:cache:${otherNamespace}:SKU-1`, '{}');
    await other.set(`${instance.cache.keyFor('')}probe`, '{}'); // in our namespace: proves messages flow
    await waitFor('the probe invalidation', () => instance.invalidation.stats.keysInvalidated > before);
    expect(instance.invalidation.stats.keysInvalidated).toBe(before + 1);
    expect(instance.local.get('SKU-1')).toBeDefined();
    await deleteNamespaceKeys(other, otherNamespace);
  });

  it('a write on this instance drops its entry at once, without waiting for the round trip', async () => {
    await instance.put(product(1));
    expect(await instance.lookup('SKU-1')).toBeDefined();
    const ticket = instance.local.beginFill(); // a concurrent lookup's GET, sent before the write
    await instance.cache.setProduct({ ...product(1), price: 7 });
    instance.local.invalidate('SKU-1'); // what a write does once its cache write settles
    expect(instance.local.get('SKU-1')).toBeUndefined();
    expect(instance.local.fill(ticket, product(1))).toBe(false); // the old value cannot come back
  });

  it('refuses a fill when the invalidation of its key arrives before the GET reply', async () => {
    await instance.put(product(1));
    const ticket = instance.local.beginFill();
    const stale = await instance.cache.get('SKU-1'); // the reply, held back
    const seen = instance.invalidation.stats.keysInvalidated;
    await other.set(instance.cache.keyFor('SKU-1'), JSON.stringify({ ...product(1), price: 3 }));
    await waitFor('the invalidation to arrive', () => instance.invalidation.stats.keysInvalidated > seen);
    expect(stale.kind).toBe('product');
    if (stale.kind === 'product') expect(instance.local.fill(ticket, stale.product)).toBe(false);
    expect(instance.local.get('SKU-1')).toBeUndefined();
    expect(JSON.parse((await instance.lookup('SKU-1'))!.toString()).price).toBe(3);
  });

  it.each(['subscriber', 'tracker'] as const)(
    'killing the %s connection flushes the local cache, refuses fills until tracking is back, then fills again',
    async (which) => {
      for (const i of [1, 2, 3]) {
        await instance.put(product(i));
        await instance.lookup(`SKU-${i}`);
      }
      expect(instance.local.size).toBe(3);
      const oldIds = instance.invalidation.clientIds;
      const seen: { established: boolean; size: number; filled: boolean }[] = [];
      let ticketWhileDown = -1;
      instance.invalidation.onChange((established) => {
        if (!established) ticketWhileDown = instance.local.beginFill();
        seen.push({ established, size: instance.local.size, filled: instance.local.fill(instance.local.beginFill(), product(9)) });
      });
      const ticketBefore = instance.local.beginFill();
      await other.call('CLIENT', 'KILL', 'ID', String(oldIds[which])); // our own client id only
      await waitFor('tracking to be re-established', () => seen.some((s) => s.established));
      expect(seen[0]).toEqual({ established: false, size: 0, filled: false });
      expect(seen.at(-1)?.established).toBe(true);
      const newIds = instance.invalidation.clientIds;
      expect(newIds[which]).not.toBe(oldIds[which]);
      // Reads sent before or during the gap cannot fill.
      expect(instance.local.fill(ticketBefore, product(1))).toBe(false);
      expect(instance.local.fill(ticketWhileDown, product(1))).toBe(false);
      expect(instance.local.get('SKU-1')).toBeUndefined();
      // Tracking redirects to the new subscriber: invalidations flow again.
      await instance.lookup('SKU-2');
      expect(instance.local.get('SKU-2')).toBeDefined();
      await other.del(instance.cache.keyFor('SKU-2'));
      await waitFor('an invalidation after reconnecting', () => instance.local.get('SKU-2') === undefined);
    },
  );
});

describe('CacheInvalidation through a TCP proxy', () => {
  it('a silent network (sockets open, no bytes) suspends the local cache at the next check, and it recovers', async () => {
    const proxy = await startTcpProxy(Number(new URL(SHARED_REDIS_URL).port || 6379));
    const namespace = uniqueNamespace('local');
    const instance = await openInstance(`redis://127.0.0.1:${proxy.port}`, namespace, 300);
    const other = new Redis(SHARED_REDIS_URL);
    try {
      await instance.put(product(1));
      expect(await instance.lookup('SKU-1')).toBeDefined();
      proxy.blackhole(true);
      // No 'close' comes: only the tracker's CLIENT TRACKINGINFO timing out tells.
      await waitFor('the silent tracker to be noticed', () => !instance.invalidation.established);
      expect(instance.local.size).toBe(0);
      expect(instance.local.fill(instance.local.beginFill(), product(1))).toBe(false);
      await other.set(instance.cache.keyFor('SKU-1'), JSON.stringify({ ...product(1), price: 42 })); // missed by us
      proxy.blackhole(false); // cuts the held connections: both reconnect
      await instance.invalidation.waitEstablished(10_000);
      await waitFor('a fill after recovery', async () => (await instance.lookup('SKU-1').catch(() => undefined)) !== undefined);
      expect(JSON.parse(instance.local.get('SKU-1')!.toString()).price).toBe(42);
    } finally {
      await instance.close();
      await deleteNamespaceKeys(other, namespace);
      other.disconnect();
      await proxy.close();
    }
  });
});

describe('CacheInvalidation on a private Redis', () => {
  let server: PrivateRedis;
  let instance: Instance;
  let other: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    other = new Redis(server.url);
    instance = await openInstance(server.url, 'private');
  });
  afterAll(async () => {
    await instance.close();
    other.disconnect();
    await server.stop();
  });

  it('FLUSHALL drops the whole local cache (a null invalidation)', async () => {
    for (let i = 0; i < 10; i++) {
      await instance.put(product(i));
      await instance.lookup(`SKU-${i}`);
    }
    expect(instance.local.size).toBe(10);
    const ticket = instance.local.beginFill();
    await other.flushall();
    await waitFor('the flush invalidation', () => instance.local.size === 0);
    expect(instance.invalidation.stats.flushes).toBe(1);
    expect(instance.local.fill(ticket, product(1))).toBe(false);
    expect(instance.invalidation.established).toBe(true);
  });

  it('a Redis restart flushes, refuses fills while down, and tracking comes back on the new server', async () => {
    await instance.put(product(1));
    await instance.lookup('SKU-1');
    expect(instance.local.size).toBe(1);
    await server.restart();
    await waitFor('the loss to be seen', () => !instance.invalidation.established);
    expect(instance.local.size).toBe(0);
    expect(instance.local.fill(instance.local.beginFill(), product(1))).toBe(false);
    await instance.invalidation.waitEstablished(10_000);
    await instance.redis.waitReady(10_000);
    await waitFor('the data connection', async () => (await other.ping().catch(() => '')) === 'PONG');
    await instance.put(product(1));
    expect(await instance.lookup('SKU-1')).toBeDefined();
    await other.set(instance.cache.keyFor('SKU-1'), '{}');
    await waitFor('an invalidation from the new server', () => instance.local.get('SKU-1') === undefined);
  });

  it('closes while Redis is down, leaving the local cache empty and refusing fills', async () => {
    await instance.put(product(1));
    await instance.lookup('SKU-1');
    await server.stop();
    await waitFor('the loss to be seen', () => !instance.invalidation.established);
    await instance.invalidation.close();
    expect(instance.local.size).toBe(0);
    expect(instance.local.fill(instance.local.beginFill(), product(1))).toBe(false);
  });
});
