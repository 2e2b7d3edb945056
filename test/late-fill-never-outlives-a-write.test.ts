/**
 * A lookup's cache fill after a database read must not overwrite what a later
 * update or delete wrote: the read saw the old row, the write committed and its
 * SET landed (200 / 204), and only then does the lookup's fill arrive. The fill
 * is SET NX (ProductCache.fillProduct), so it is a no-op; a plain SET would
 * serve the old row from Redis for up to CACHE_TTL_S.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Product } from '../src/product.js';
import { ProductCache } from '../src/store/product-cache.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { createFilter } from './helpers/filter-fixtures.js';
import { guardAndWriter } from './helpers/guard-and-writer.js';
import { heldReadsDatabase } from './helpers/held-reads-database.js';
import { SHARED_REDIS_URL, deleteNamespaceKeys, uniqueNamespace } from './helpers/redis-namespace.js';

const OLD: Product = { id: 'SKU-1', name: 'Old', price: 1 };
const NEW: Product = { id: 'SKU-1', name: 'New', price: 2 };

describe('a lookup whose database read predates a write', () => {
  let redis: RedisConnection;
  let namespace: string;

  beforeEach(async () => {
    namespace = uniqueNamespace('late-fill');
    redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 2_000 });
    await redis.waitReady(5_000);
  });
  afterEach(async () => {
    await deleteNamespaceKeys(redis.client, namespace);
    await redis.close();
  });

  function service() {
    const db = heldReadsDatabase([OLD]);
    const filter = createFilter(1000);
    filter.add(OLD.id);
    const cache = new ProductCache({ redis, namespace, ttlS: 300, negativeTtlS: 60 });
    return { db, cache, ...guardAndWriter({ products: db.store, filter, cache, redis }) };
  }

  it('does not overwrite the product an update cached before its 200', async () => {
    const { db, cache, guard, writer } = service();
    db.holdReads();
    const begun = db.readBegun();
    const late = guard.resolve(OLD.id); // cache miss, then a read that sees OLD
    await begun;
    await writer.update(NEW); // the 200: NEW is in Redis
    db.releaseReads();
    expect(await late).toMatchObject({ found: true, product: OLD, source: 'database' });
    // The fill was sent before this GET on the same connection: Redis has applied it.
    expect(await cache.get(OLD.id)).toEqual({ kind: 'product', product: NEW });
    writer.close();
  });

  it('does not bring back a product a delete replaced with a marker before its 204', async () => {
    const { db, cache, guard, writer } = service();
    db.holdReads();
    const begun = db.readBegun();
    const late = guard.resolve(OLD.id);
    await begun;
    await writer.delete(OLD.id); // the 204: its marker SET is sent on this connection
    db.releaseReads();
    expect(await late).toMatchObject({ found: true, product: OLD, source: 'database' });
    expect(await cache.get(OLD.id)).toEqual({ kind: 'absent' });
    writer.close();
  });

  it('still fills a key nobody wrote', async () => {
    const { cache, guard, writer } = service();
    expect(await guard.resolve(OLD.id)).toMatchObject({ found: true, source: 'database' });
    expect(await cache.get(OLD.id)).toEqual({ kind: 'product', product: OLD });
    writer.close();
  });
});
