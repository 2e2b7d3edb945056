import { ReplyError } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
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

  it('sends the overwrites of one tick as one command, applied in the order issued', async () => {
    const shelf: Product = { id: 'SKU-2', name: 'Shelf', price: 30 };
    randomValue = 0;
    const sent = cache.overwriteCommands;
    // A group commit's creates, then a delete of the first, all in one tick.
    await Promise.all([cache.setProduct(lamp), cache.setProduct(shelf), cache.markAbsent('SKU-1')]);
    expect(cache.overwriteCommands - sent).toBe(redis.inProcess ? 3 : 1);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'absent' });
    expect(await cache.get('SKU-2')).toEqual({ kind: 'product', product: shelf });
    // Each entry keeps its own TTL: the marker's (60 s base) and the product's (300 s base), jitter pinned at -10%.
    expect(await redis.client.pttl(cache.keyFor('SKU-1'))).toBeLessThanOrEqual(54_000);
    expect(await redis.client.pttl(cache.keyFor('SKU-1'))).toBeGreaterThan(53_000);
    expect(await redis.client.pttl(cache.keyFor('SKU-2'))).toBeLessThanOrEqual(270_000);
    expect(await redis.client.pttl(cache.keyFor('SKU-2'))).toBeGreaterThan(269_000);
  });

  it('keeps call order on the connection: a read called after a queued overwrite comes after it', async () => {
    const written = cache.setProduct(lamp);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: lamp });
    await written;
  });

  it('sends a large tick of overwrites in several scripts, every one landing', async () => {
    const many = Array.from({ length: 1_200 }, (_, i): Product => ({ id: `bulk-${i}`, name: 'n', price: i }));
    const sent = cache.overwriteCommands;
    await Promise.all(many.map((p) => cache.setProduct(p)));
    expect(cache.overwriteCommands - sent).toBe(redis.inProcess ? 1_200 : 3); // 500 keys per script
    expect(await cache.get('bulk-0')).toEqual({ kind: 'product', product: many[0] });
    expect(await cache.get('bulk-1199')).toEqual({ kind: 'product', product: many[1199] });
  });

  it('starts a new command for overwrites issued after a flush', async () => {
    const sent = cache.overwriteCommands;
    await cache.setProduct(lamp);
    await cache.markAbsent('SKU-1');
    expect(cache.overwriteCommands - sent).toBe(2);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'absent' });
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

describe('ProductCache overwrites when the script fails', () => {
  const shelf: Product = { id: 'SKU-2', name: 'Shelf', price: 30 };
  let redis: RedisConnection;
  let namespace: string;
  let cache: ProductCache;

  beforeEach(async () => {
    redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 1_000 });
    namespace = uniqueNamespace('cache');
    await redis.waitReady(5_000);
    cache = new ProductCache({ redis, namespace, ttlS: 300, negativeTtlS: 60 });
  });
  afterEach(async () => {
    await deleteNamespaceKeys(redis.client, namespace);
    await redis.close();
  });

  it('when Redis refuses scripts: fails that batch (never re-sends it late) and sends later ones as single SETs', async () => {
    let refuse: (() => void) | undefined;
    const refused = vi.spyOn(redis.client, 'eval').mockImplementation(
      () =>
        new Promise((_resolve, reject) => {
          refuse = () => reject(new ReplyError("NOPERM User default has no permissions to run the 'eval' command"));
        }),
    );
    // A delete's marker (with another write) goes out as a script and hangs...
    const deleted = Promise.allSettled([cache.markAbsent('SKU-1'), cache.markAbsent('SKU-2')]);
    await new Promise((resolve) => setImmediate(resolve));
    // ...while a later create of SKU-1, alone in its tick, lands as a single SET.
    await cache.setProduct(lamp);
    refuse!();
    expect((await deleted).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    // Re-sending the refused marker now would hide the created product.
    expect(await cache.get('SKU-1')).toEqual({ kind: 'product', product: lamp });
    await Promise.all([cache.markAbsent('SKU-1'), cache.setProduct(shelf)]);
    expect(refused).toHaveBeenCalledTimes(1); // scripts are off now: single SETs
    expect(await cache.get('SKU-1')).toEqual({ kind: 'absent' });
    expect(await cache.get('SKU-2')).toEqual({ kind: 'product', product: shelf });
  });

  it('keeps using scripts after a reply that is not about scripting (OOM, READONLY, BUSY)', async () => {
    const evals = vi.spyOn(redis.client, 'eval').mockRejectedValueOnce(new ReplyError("OOM command not allowed when used memory > 'maxmemory'."));
    await expect(Promise.all([cache.setProduct(lamp), cache.setProduct(shelf)])).rejects.toThrow('OOM');
    const sent = cache.overwriteCommands;
    await Promise.all([cache.setProduct(lamp), cache.setProduct(shelf)]);
    expect(cache.overwriteCommands - sent).toBe(1);
    expect(evals).toHaveBeenCalledTimes(2);
    expect(await cache.get('SKU-2')).toEqual({ kind: 'product', product: shelf });
  });

  it('rejects every overwrite of the tick when the command fails for another reason (the caller retries them)', async () => {
    vi.spyOn(redis.client, 'eval').mockRejectedValue(new Error('Command timed out'));
    const results = await Promise.allSettled([cache.setProduct(lamp), cache.markAbsent('SKU-2')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await cache.get('SKU-1')).toEqual({ kind: 'miss' });
  });
});
