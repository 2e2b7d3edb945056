import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/cluster-keys.js';
import { InstanceLease } from '../../src/cluster/lease.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from './cluster-namespace.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('InstanceLease', () => {
  let client: Redis;
  const namespaces: string[] = [];
  beforeAll(() => {
    client = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    for (const ns of namespaces.splice(0)) await deleteClusterKeys(client, ns);
  });
  afterAll(async () => {
    await client.quit();
  });

  function make(extra: { catchUp?: () => Promise<void>; isCaughtUp?: () => boolean } = {}) {
    const ns = uniqueNamespace('lease');
    namespaces.push(ns);
    const clock = { t: 1_000 };
    const lease = new InstanceLease({
      client,
      namespace: ns,
      instanceId: 'a',
      ttlMs: 3_000,
      renewEveryMs: 1_000,
      marginMs: 500,
      clock: () => clock.t,
      scheduler: new ManualScheduler(),
      catchUp: extra.catchUp ?? (async () => {}),
      ...(extra.isCaughtUp === undefined ? {} : { isCaughtUp: extra.isCaughtUp }),
    });
    return { ns, clock, lease };
  }

  it('is valid until the renewal was SENT + ttl - margin, not until its reply', async () => {
    const { ns, clock, lease } = make();
    const renewed = lease.renew(); // sent at t = 1000
    clock.t = 1_400; // the reply comes later
    expect(await renewed).toBe(true);
    expect(lease.validUntil).toBe(1_000 + 3_000 - 500);
    await new Promise((resolve) => setImmediate(resolve)); // the catch-up after registration settles
    clock.t = 3_499;
    expect(lease.mayRejectFromFilter()).toBe(true);
    clock.t = 3_500;
    expect(lease.mayRejectFromFilter()).toBe(false); // fail open: no renewal since
    // Redis keeps the key longer than the holder trusts it.
    expect(await client.pttl(clusterKeys(ns).lease('a'))).toBeGreaterThan(2_500);
    await lease.close();
  });

  it('does not reject from the filter before the catch-up after registration, nor while the feed is behind', async () => {
    const gate = deferred();
    let feedCaughtUp = false;
    const { lease } = make({ catchUp: () => gate.promise, isCaughtUp: () => feedCaughtUp });
    expect(await lease.renew()).toBe(true);
    expect(lease.mayRejectFromFilter()).toBe(false); // catching up
    gate.resolve();
    await gate.promise;
    await Promise.resolve();
    expect(lease.mayRejectFromFilter()).toBe(false); // feed behind
    feedCaughtUp = true;
    expect(lease.mayRejectFromFilter()).toBe(true);
    await lease.close();
    expect(lease.mayRejectFromFilter()).toBe(false);
  });

  it('a lease that lapsed registers anew and catches up again before rejecting', async () => {
    let catchUps = 0;
    let gate = deferred();
    const { clock, lease } = make({
      catchUp: () => {
        catchUps++;
        return gate.promise;
      },
    });
    await lease.renew();
    gate.resolve();
    await gate.promise;
    await Promise.resolve();
    expect(lease.mayRejectFromFilter()).toBe(true);
    gate = deferred();
    clock.t += 10_000; // renewals failed or stalled for longer than the lease
    expect(await lease.renew()).toBe(true);
    expect(lease.registrations).toBe(2);
    expect(catchUps).toBe(2);
    expect(lease.mayRejectFromFilter()).toBe(false);
    gate.resolve();
    await gate.promise;
    await Promise.resolve();
    expect(lease.mayRejectFromFilter()).toBe(true);
    await lease.close();
  });

  it('a renewal under an epoch that vanished fails open at once and re-registers under a new epoch', async () => {
    const observed: boolean[] = [];
    const made = make({
      catchUp: async () => {
        observed.push(lease.mayRejectFromFilter());
      },
    });
    const lease = made.lease;
    await lease.renew();
    const first = lease.epoch;
    await client.del(clusterKeys(made.ns).epoch); // what FLUSHALL does to it
    expect(await lease.renew()).toBe(true);
    expect(lease.epoch).not.toBe(first);
    expect(lease.registrations).toBe(2);
    expect(observed).toEqual([false, false]); // never rejecting while catching up
    await lease.close();
  });

  it('publishes its applied position and leaves with a position past every entry', async () => {
    const { ns, lease } = make();
    await lease.renew();
    lease.setApplied('5-1');
    const keys = clusterKeys(ns);
    await waitFor('the applied position in Redis', async () => (await client.hget(keys.applied, 'a')) === '5-1');
    expect(await client.hget(keys.applied, 'a')).toBe('5-1');
    await lease.close();
    expect(await client.exists(keys.lease('a'))).toBe(0);
    expect(await client.hget(keys.applied, 'a')).toBe('18446744073709551615-18446744073709551615');
  });

  it('names a bad option', () => {
    expect(
      () => new InstanceLease({ client, namespace: 'x', instanceId: 'a', ttlMs: 1_000, renewEveryMs: 900, marginMs: 200, catchUp: async () => {} }),
    ).toThrow('options.renewEveryMs (900) must be positive and below ttlMs - marginMs (1000 - 200)');
  });
});
