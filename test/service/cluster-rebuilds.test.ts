/**
 * Rebuilds in cluster mode (src/service/cluster-rebuilds.ts): one at a time
 * across instances through the rebuild lock (here: the real Redis), and an
 * instance whose filter is smaller than the capacity kept in the database
 * rebuilds itself to it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RebuildLock } from '../../src/cluster/rebuild-lock.js';
import { createLogger } from '../../src/logger.js';
import { ClusterRebuilds } from '../../src/service/cluster-rebuilds.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import type { RebuildReason, RebuildRecord } from '../../src/upkeep/online-rebuild.js';
import { waitFor } from '../helpers/wait-for.js';
import { deleteClusterKeys } from '../cluster/cluster-namespace.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A rebuilder that runs until the test finishes it, recording each start. */
function fakeRebuilder(log: string[], name: string) {
  let finish: (() => void) | undefined;
  let running: Promise<void> | undefined;
  const starts: { reason: RebuildReason; minCapacity: number }[] = [];
  return {
    starts,
    finish: () => finish?.(),
    rebuilder: {
      get running() {
        return running !== undefined;
      },
      last: null as RebuildRecord | null,
      start(reason: RebuildReason, _detail = '', minCapacity = 0): boolean {
        if (running !== undefined) return false;
        starts.push({ reason, minCapacity });
        log.push(`${name} start`);
        running = new Promise<void>((resolve) => (finish = resolve)).then(() => {
          log.push(`${name} end`);
          running = undefined;
        });
        return true;
      },
      idle: async () => {
        await running;
      },
    },
  };
}

describe('ClusterRebuilds', () => {
  it('runs one rebuild at a time across instances, the second after the first released the lock', async () => {
    const namespace = `cr-${randomBytes(6).toString('hex')}`;
    const redis = RedisConnection.open({ url: 'redis://127.0.0.1:6379', commandTimeoutMs: 1000 });
    cleanups.push(async () => {
      await deleteClusterKeys(redis.client, namespace);
      await redis.close();
    });
    const log: string[] = [];
    const gate = (name: string) => {
      const r = fakeRebuilder(log, name);
      const g = new ClusterRebuilds({
        lock: new RebuildLock({ client: redis.client, namespace, leaseMs: 5_000 }),
        rebuilder: r.rebuilder,
        capacity: () => 1000,
        storedCapacity: async () => undefined,
        logger: createLogger('silent'),
        retryMs: 10,
      });
      cleanups.push(() => g.close());
      return { g, r };
    };
    const a = gate('a');
    const b = gate('b');
    expect(a.g.start('stale')).toBe(true);
    await waitFor('a to start', () => a.r.starts.length === 1);
    expect(b.g.start('stale')).toBe(true); // accepted: it waits for the lock
    expect(b.g.running).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.r.starts).toHaveLength(0); // without the lock both would rebuild at once
    a.r.finish();
    await waitFor('b to start', () => b.r.starts.length === 1);
    b.r.finish();
    await waitFor('b to end', () => !b.g.running);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('rebuilds an instance whose filter is smaller than the capacity kept in the database to that capacity', async () => {
    const log: string[] = [];
    const r = fakeRebuilder(log, 'x');
    let token = 0;
    const g = new ClusterRebuilds({
      lock: { leaseMs: 1000, acquire: async () => String(++token), renew: async () => true, release: async () => undefined },
      rebuilder: r.rebuilder,
      capacity: () => 1000,
      storedCapacity: async () => 4000,
      logger: createLogger('silent'),
    });
    cleanups.push(() => g.close());
    expect(await g.followStoredCapacity()).toBe(true);
    await waitFor('the rebuild to start', () => r.starts.length === 1);
    expect(r.starts[0]).toEqual({ reason: 'capacity', minCapacity: 4000 });
    expect(await g.followStoredCapacity()).toBe(false); // one at a time here too
    r.finish();
  });
});
