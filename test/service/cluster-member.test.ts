/**
 * The cluster wiring (src/service/cluster.ts) on the real Redis, with two
 * members on one in-memory "database": B's confirmed create is in A's filter,
 * A's guard then never serves a stale negative marker for it (issue 11 §4),
 * deletes reach A's hook and stale count before B's confirm resolves, the
 * guard fails open without a lease, and a Redis that refuses the entry is a
 * 503 cluster_unavailable.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { loadConfig } from '../../src/config.js';
import { ClusterUnavailableError } from '../../src/errors.js';
import { LookupGuard } from '../../src/guard.js';
import { CloserStack } from '../../src/lifecycle/closer-stack.js';
import { createLogger } from '../../src/logger.js';
import { LookupCounters } from '../../src/metrics/lookup-counters.js';
import { ClusterMember } from '../../src/service/cluster.js';
import type { StoredProduct } from '../../src/store/product-store.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { UnconfirmedCacheWrites } from '../../src/store/unconfirmed-cache-writes.js';
import { createFilter } from '../helpers/filter-fixtures.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from '../cluster/cluster-namespace.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const logger = createLogger('silent');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The shared "database": rows with positions in commit order (every write commits at once). */
function fakeDatabase() {
  const rows = new Map<string, number>();
  let next = 1;
  return {
    rows,
    insert: (id: string): number => {
      const position = next++;
      rows.set(id, position);
      return position;
    },
    horizon: async () => next,
    count: async () => rows.size,
    async *idsFrom(from: number): AsyncIterable<readonly string[]> {
      yield [...rows].filter(([, p]) => p >= from).map(([id]) => id);
    },
    get: async (id: string): Promise<StoredProduct | undefined> => (rows.has(id) ? { id, name: 'N', price: 1, createdAt: 0 } : undefined),
  };
}

function clusterConfig(namespace: string) {
  return loadConfig({
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
    REDIS_URL,
    BLOOM_STATE_NAMESPACE: namespace,
    CLUSTER_LEASE_TTL_MS: '1500',
    NEGATIVE_TTL_S: '1',
    DATABASE_TIMEOUT_MS: '200',
    REDIS_COMMAND_TIMEOUT_MS: '500',
  });
}

async function member(namespace: string, db: ReturnType<typeof fakeDatabase>) {
  const config = clusterConfig(namespace);
  expect(config.cluster).toBe(true);
  const redis = RedisConnection.open({ url: REDIS_URL, commandTimeoutMs: 500, name: 'cluster-member-test' });
  const closers = new CloserStack(logger);
  const filter = createFilter(1000);
  let stale = 0;
  const active = { filter, add: (id: string) => filter.add(id), addStale: (n: number) => void (stale += n) };
  const m = new ClusterMember({ config, logger, products: db, active, redis, closers });
  cleanups.push(async () => {
    m.close();
    await closers.close();
    await redis.close();
  });
  await m.join(await db.horizon());
  return { m, filter, redis, stale: () => stale };
}

describe('ClusterMember', () => {
  let namespace: string;
  const fresh = async (): Promise<string> => {
    namespace = `cm-${randomBytes(6).toString('hex')}`;
    const redis = RedisConnection.open({ url: REDIS_URL, commandTimeoutMs: 500 });
    cleanups.push(async () => {
      await deleteClusterKeys(redis.client, namespace);
      await redis.close();
    });
    return namespace;
  };

  it("never serves A's stale negative marker for an id B created and confirmed", async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    const a = await member(ns, db);
    const b = await member(ns, db);
    // A's marker for X stays in Redis (B's product write never lands): the cache answers "absent" forever.
    const counters = new LookupCounters();
    const guardA = new LookupGuard({
      filter: () => a.filter,
      cache: { get: async () => ({ kind: 'absent' }), fillProduct: async () => undefined, setAbsent: async () => undefined },
      redis: { healthy: true },
      products: db,
      counters,
      unconfirmed: new UnconfirmedCacheWrites(),
      logger,
      mayRejectFromFilter: () => a.m.mayRejectFromFilter(),
      trustsNegative: (id) => a.m.trustsNegative(id),
    });
    // Control: once A has been closed for a hold, it trusts markers (so the next assertion is not vacuous).
    await waitFor('A to trust markers', () => a.m.trustsNegative('control'), 15_000);
    expect(await guardA.resolve('x-made-on-b')).toEqual({ found: false, source: 'negative_cache' });

    const position = db.insert('x-made-on-b');
    b.filter.add('x-made-on-b');
    await b.m.confirm({ op: 'create', ids: ['x-made-on-b'], position });
    // B's barrier waited for A: A's filter holds the id, and A no longer trusts the marker for it.
    expect(a.filter.has('x-made-on-b')).toBe(true);
    expect(guardA.rejects('x-made-on-b')).toBe(false);
    expect(await guardA.resolve('x-made-on-b')).toMatchObject({ found: true, source: 'database' });
    expect(a.m.trustsNegative('control')).toBe(true);
  });

  it("runs the remote-create hooks with another instance's create before the creator's confirm resolves, and not for its own", async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    const a = await member(ns, db);
    const b = await member(ns, db);
    const seenOnA: string[] = [];
    const seenOnB: string[] = [];
    a.m.onRemoteCreate((ids) => seenOnA.push(...ids));
    b.m.onRemoteCreate((ids) => seenOnB.push(...ids));
    await b.m.confirm({ op: 'create', ids: ['made-on-b'], position: 1 });
    // The hook ends A's older lookup flights (src/service/use-cases.ts): it ran before B's 201.
    expect(seenOnA).toEqual(['made-on-b']);
    await waitFor('B to read its own entry back', () => b.m.status().feedPosition !== '0-0');
    expect(seenOnB).toEqual([]);
  });

  it("applies another instance's delete (stale count, hook) before the deleter's confirm resolves, and not its own", async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    const a = await member(ns, db);
    const b = await member(ns, db);
    const dropped: string[] = [];
    a.m.onRemoteDelete((id) => dropped.push(id));
    await b.m.confirm({ op: 'delete', ids: ['gone'], position: 0 });
    expect(dropped).toEqual(['gone']);
    // B's barrier is woken by A's applied-position PUBLISH, not only by polling.
    const numsub = (await b.redis.client.call('PUBSUB', 'NUMSUB', clusterKeys(ns).appliedChannel)) as [string, number];
    expect(numsub[1]).toBeGreaterThanOrEqual(1);
    expect(a.stale()).toBe(1);
    // B did its own stale count in the writer; reading its own entry back must not count it twice.
    await waitFor('B to read its own entry back', () => b.m.status().feedPosition !== '0-0');
    expect(b.stale()).toBe(0);
  });

  it("does not serve a product cached before another instance's delete (its marker write may have failed)", async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    db.insert('gone');
    const a = await member(ns, db);
    const b = await member(ns, db);
    // B's marker never landed: Redis still holds the old product.
    const guardA = new LookupGuard({
      filter: () => a.filter,
      cache: { get: async () => ({ kind: 'product', product: { id: 'gone', name: 'Old', price: 1 } }), fillProduct: async () => undefined, setAbsent: async () => undefined },
      redis: { healthy: true },
      products: db,
      counters: new LookupCounters(),
      unconfirmed: new UnconfirmedCacheWrites(),
      logger,
      trustsProduct: (id) => a.m.trustsProduct(id),
    });
    expect(await guardA.resolve('gone')).toMatchObject({ found: true, source: 'cache' }); // control
    db.rows.delete('gone');
    await b.m.confirm({ op: 'delete', ids: ['gone'], position: 0 }); // B's 204
    expect(await guardA.resolve('gone')).toEqual({ found: false, source: 'database' });
    expect(a.m.trustsProduct('other')).toBe(true);
  });

  it('fails open: the guard does not reject from the filter without a valid lease', async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    const a = await member(ns, db);
    const guard = (mayReject: () => boolean) =>
      new LookupGuard({
        filter: () => a.filter,
        cache: { get: async () => ({ kind: 'miss' }), fillProduct: async () => undefined, setAbsent: async () => undefined },
        redis: { healthy: true },
        products: db,
        counters: new LookupCounters(),
        unconfirmed: new UnconfirmedCacheWrites(),
        logger,
        mayRejectFromFilter: mayReject,
      });
    expect(guard(() => a.m.mayRejectFromFilter()).rejects('absent-id')).toBe(true);
    await a.m.lease.close(); // leaves: no lease, so writers no longer wait for A
    expect(a.m.mayRejectFromFilter()).toBe(false);
    expect(guard(() => a.m.mayRejectFromFilter()).rejects('absent-id')).toBe(false);
  });

  it('answers cluster_unavailable (503) when Redis does not take the feed entry', async () => {
    const ns = await fresh();
    const db = fakeDatabase();
    const a = await member(ns, db);
    await a.redis.close();
    const err = await a.m.confirm({ op: 'create', ids: ['y'], position: db.insert('y') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterUnavailableError);
  });
});
