import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ABSENT_MARKER, ProductCache, jitteredTtlMs } from '../../src/store/product-cache.js';
import type { Product } from '../../src/product.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';

const lamp: Product = { id: 'SKU-1', name: 'Lamp "deluxe" ☃', price: 9.5 };

describe('jitteredTtlMs', () => {
  it('spreads the TTL uniformly over +-10% of the base', () => {
    expect(jitteredTtlMs(300, () => 0)).toBe(270_000);
    expect(jitteredTtlMs(300, () => 0.5)).toBe(300_000);
    expect(jitteredTtlMs(300, () => 0.999_999_9)).toBe(330_000);
    expect(jitteredTtlMs(60, () => 0.25)).toBe(57_000);
  });

  it('never returns less than 1 ms', () => {
    expect(jitteredTtlMs(0.000_1, () => 0)).toBe(1);
  });
});

describe.each([
  { backend: 'real Redis', url: SHARED_REDIS_URL },
  { backend: 'memory://', url: uniqueMemoryUrl() },
])('ProductCache on $backend', ({ url }) => {
  let redis: RedisConnection;
  let namespace: string;
  let cache: ProductCache;
  let randomValue = 0.5;

  beforeAll(async () => {
    redis = RedisConnection.open({ url, commandTimeoutMs: 1_000 });
    await redis.waitReady(5_000);
  });

  afterEach(async () => {
    await deleteNamespaceKeys(redis.client, namespace);
  });

  afterAll(async () => {
    await redis.close();
  });

  beforeEach(() => {
    namespace = uniqueNamespace('cache');
    randomValue = 0.5;
    cache = new ProductCache({ redis, namespace, ttlS: 300, negativeTtlS: 60, random: () => randomValue });
  });

  it('names keys bloom:cache:<namespace>:<id>', () => {
    expect(cache.keyFor('SKU-1')).toBe(`bloom:cache:${namespace}:SKU-1`);
  });

  it('misses an id it has never seen', async () => {
    expect(await cache.get('SKU-1')).toEqual({ kind: 'miss' });
  });

  it('round-trips a product', async () => {
    await cache.setProduct(lamp);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: lamp });
  });

  it('stores a negative marker and overwrites it with a product', async () => {
    await cache.setAbsent('SKU-1');
    expect(await cache.get('SKU-1')).toEqual({ kind: 'absent' });
    expect(await redis.client.get(cache.keyFor('SKU-1'))).toBe(ABSENT_MARKER);
    await cache.setProduct(lamp);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: lamp });
  });

  it('never lets a negative fill overwrite a cached product', async () => {
    await cache.setProduct(lamp);
    await cache.setAbsent('SKU-1');
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: lamp });
  });

  it('markAbsent replaces a cached product with the marker (a delete)', async () => {
    await cache.setProduct(lamp);
    await cache.markAbsent('SKU-1');
    expect(await cache.get('SKU-1')).toEqual({ kind: 'absent' });
  });

  it('sets jittered TTLs on both kinds of entry', async () => {
    randomValue = 0;
    await cache.setProduct(lamp);
    randomValue = 0.75;
    await cache.setAbsent('SKU-2');
    const productTtl = await redis.client.pttl(cache.keyFor('SKU-1'));
    const absentTtl = await redis.client.pttl(cache.keyFor('SKU-2'));
    expect(productTtl).toBeLessThanOrEqual(270_000);
    expect(productTtl).toBeGreaterThan(269_000);
    expect(absentTtl).toBeLessThanOrEqual(63_000);
    expect(absentTtl).toBeGreaterThan(62_000);
  });

  it('treats a corrupt or foreign value as a miss', async () => {
    const corrupt = [
      'not json',
      '{"id":"SKU-1"',
      'null',
      '"SKU-1"',
      '[1,2]',
      '{"id":"SKU-other","name":"x","price":1}',
      '{"id":"SKU-1","name":7,"price":1}',
      '{"id":"SKU-1","name":"x","price":"1"}',
      '{"id":"SKU-1","name":"x"}',
      '',
    ];
    for (const value of corrupt) {
      await redis.client.set(cache.keyFor('SKU-1'), value);
      expect(await cache.get('SKU-1'), value).toEqual({ kind: 'miss' });
    }
  });

  it('returns only the product fields of a cached value with extras', async () => {
    await redis.client.set(cache.keyFor('SKU-1'), '{"id":"SKU-1","name":"x","price":2,"extra":true}');
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: { id: 'SKU-1', name: 'x', price: 2 } });
  });

  it('handles ids with Redis glob and separator characters', async () => {
    const odd: Product = { id: 'a:b*c?[d] é', name: 'odd', price: 0 };
    await cache.setProduct(odd);
    expect(await cache.get(odd.id)).toEqual({ kind: 'product', product: odd });
    expect(await cache.get('a:b')).toEqual({ kind: 'miss' });
  });

  it('rejects bad TTLs at construction', () => {
    expect(() => new ProductCache({ redis, namespace: 'x', ttlS: 0, negativeTtlS: 1 })).toThrow('ttlS must be a positive number of seconds, got 0');
    expect(() => new ProductCache({ redis, namespace: 'x', ttlS: 1, negativeTtlS: Number.NaN })).toThrow('negativeTtlS');
  });
});

describe('ProductCache when Redis is unreachable', () => {
  it('rejects, so the caller can fall back to the database', async () => {
    const redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 500 });
    await redis.waitReady(5_000);
    await redis.close();
    const cache = new ProductCache({ redis, namespace: uniqueNamespace('cache'), ttlS: 1, negativeTtlS: 1 });
    await expect(cache.get('SKU-1')).rejects.toThrow();
    await expect(cache.setAbsent('SKU-1')).rejects.toThrow();
  });
});
