import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IdFlightLock } from '../../src/cluster/id-flight-lock.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

describe('IdFlightLock', () => {
  let client: Redis;
  const ns = uniqueNamespace('flight');
  beforeAll(() => {
    client = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    await deleteClusterKeys(client, ns);
  });
  afterAll(async () => {
    await client.quit();
  });

  it('lets one instance ask the database for an id; the lock frees on release or expiry', async () => {
    const a = new IdFlightLock({ client, namespace: ns, ttlMs: 150 });
    const b = new IdFlightLock({ client, namespace: ns, ttlMs: 150 });
    const claim = await a.tryAcquire('hot');
    if (claim.kind !== 'mine') throw new Error(`expected the lock, got ${claim.kind}`);
    expect(await b.tryAcquire('hot')).toEqual({ kind: 'busy' });
    expect((await b.tryAcquire('other')).kind).toBe('mine');
    await b.release('hot', 'not-the-token'); // a stranger's release is a no-op
    expect(await b.tryAcquire('hot')).toEqual({ kind: 'busy' });
    await a.release('hot', claim.token);
    expect((await b.tryAcquire('hot')).kind).toBe('mine');
    await waitFor('expiry', async () => (await a.tryAcquire('hot')).kind === 'mine');
  });

  it('answers "go to the database yourself" when Redis fails', async () => {
    const broken = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    broken.on('error', () => {});
    const lock = new IdFlightLock({ client: broken, namespace: ns });
    expect(await lock.tryAcquire('x')).toEqual({ kind: 'unavailable' });
    broken.disconnect();
  });
});
