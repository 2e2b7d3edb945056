import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { SnapshotLock } from '../../src/cluster/snapshot-lock.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

describe('SnapshotLock', () => {
  let client: Redis;
  const namespaces: string[] = [];
  beforeAll(() => {
    client = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    for (const ns of namespaces.splice(0)) {
      await deleteClusterKeys(client, ns);
      await client.del(`bloom:state:${ns}:snapshot`);
    }
  });
  afterAll(async () => {
    await client.quit();
  });

  function setUp(leaseMs = 200): { ns: string; snapshotKey: string; a: SnapshotLock; b: SnapshotLock } {
    const ns = uniqueNamespace('snaplock');
    namespaces.push(ns);
    return { ns, snapshotKey: `bloom:state:${ns}:snapshot`, a: new SnapshotLock({ client, namespace: ns, leaseMs }), b: new SnapshotLock({ client, namespace: ns, leaseMs }) };
  }

  it('lets one writer in at a time', async () => {
    const { a, b } = setUp(10_000);
    const token = await a.acquire();
    expect(token).toBeDefined();
    expect(await b.acquire()).toBeUndefined();
    await a.release(token ?? '');
    expect(await b.acquire()).toBeDefined();
  });

  it('a paused old writer never overwrites the newer snapshot', async () => {
    const { ns, snapshotKey, a, b } = setUp(200);
    const old = await a.acquire(); // then a pauses past its lease
    expect(old).toBeDefined();
    await waitFor('the lease to run out', async () => (await client.exists(clusterKeys(ns).snapshotLock)) === 0);
    const fresh = await b.acquire();
    expect(BigInt(fresh ?? '0')).toBeGreaterThan(BigInt(old ?? '0'));
    expect(await b.writeFenced(fresh ?? '', snapshotKey, ['header', 'new'])).toBe(true);
    // a wakes up, still believing it holds the lock:
    expect(await a.renew(old ?? '')).toBe(false);
    expect(await a.writeFenced(old ?? '', snapshotKey, ['header', 'old'])).toBe(false);
    expect(await client.hget(snapshotKey, 'header')).toBe('new');
    expect(await client.hget(snapshotKey, 'fence')).toBe(fresh);
  });

  it('tokens keep growing when Redis loses the counter (a flush), so the paused writer still loses', async () => {
    const { ns, snapshotKey, a, b } = setUp(200);
    const old = await a.acquire();
    await client.del(clusterKeys(ns).snapshotLock, clusterKeys(ns).snapshotFenceCounter, snapshotKey); // what FLUSHALL does
    const fresh = await b.acquire();
    expect(BigInt(fresh ?? '0')).toBeGreaterThan(BigInt(old ?? '0'));
    expect(await b.writeFenced(fresh ?? '', snapshotKey, ['header', 'new'])).toBe(true);
    expect(await a.writeFenced(old ?? '', snapshotKey, ['header', 'old'])).toBe(false);
    expect(await client.hget(snapshotKey, 'header')).toBe('new');
  });

  it('renews its own lock only', async () => {
    const { a } = setUp(10_000);
    const token = await a.acquire();
    expect(await a.renew(token ?? '')).toBe(true);
    expect(await a.renew('1')).toBe(false);
    expect(() => new SnapshotLock({ client, namespace: 'x', leaseMs: 0 })).toThrow('options.leaseMs must be a positive integer, got 0');
  });
});
