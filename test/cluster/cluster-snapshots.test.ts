/**
 * Snapshots in cluster mode (Snapshotter `cluster` option, src/persistence/snapshotter.ts):
 * one writer at a time through the snapshot lock, full saves with the fence
 * and the feed position beside them, the feed trimmed only after a save
 * landed, and a paused writer with an older token never overwriting a newer
 * snapshot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotLock } from '../../src/cluster/snapshot-lock.js';
import { decodeSnapshot } from '../../src/filter/snapshot-codec.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/registry.js';
import { Snapshotter, type ClusterSnapshots } from '../../src/persistence/snapshotter.js';
import { RedisConnection } from '../../src/store/redis-connection.js';
import { SnapshotStore } from '../../src/store/snapshot-store.js';
import { createFilter, sku } from '../helpers/filter-fixtures.js';
import { SHARED_REDIS_URL, uniqueNamespace } from '../helpers/redis-namespace.js';
import { deleteClusterKeys } from './cluster-namespace.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup() {
  const redis = RedisConnection.open({ url: SHARED_REDIS_URL, commandTimeoutMs: 1000 });
  await redis.waitReady(2000);
  const namespace = uniqueNamespace('csnap');
  const store = new SnapshotStore({ redis, namespace });
  const lock = new SnapshotLock({ client: redis.client, namespace, leaseMs: 5_000 });
  closers.push(async () => {
    await redis.client.del(store.key);
    await deleteClusterKeys(redis.client, namespace);
    await redis.close();
  });
  /** One instance's snapshotter: its own filter, a watermark it is told, a feed position. */
  const instance = (opts: { watermark: number; feed: string; acquire?: () => Promise<string | undefined> }) => {
    const filter = createFilter(10_000);
    const landed: string[] = [];
    const gate: ClusterSnapshots = {
      acquire: opts.acquire ?? (() => lock.acquire()),
      writeFenced: (token, key, fields) => lock.writeFenced(token, key, fields),
      release: (token) => lock.release(token),
      feedPosition: () => opts.feed,
      landed: async (position) => void landed.push(position),
    };
    const snapshotter = new Snapshotter({
      filter,
      store,
      redis,
      watermark: { value: opts.watermark, offer: () => {} },
      cluster: gate,
      metrics: new Metrics(),
      logger: createLogger('silent'),
      intervalMs: 10_000,
    });
    closers.push(() => snapshotter.close());
    return { filter, snapshotter, landed };
  };
  const stored = async () => {
    const blobs = await store.load();
    const fields = await redis.client.hmget(store.key, 'fence', 'feed');
    return { blobs, fence: fields[0], feed: fields[1] };
  };
  return { lock, instance, stored };
}

describe('cluster snapshots', () => {
  it('writes full snapshots with the fence and the feed position, then reports the landing', async () => {
    const t = await setup();
    const a = t.instance({ watermark: 50, feed: '100-0' });
    for (let i = 0; i < 100; i++) a.filter.add(sku(i));
    await a.snapshotter.save();
    a.filter.add('one-more');
    await a.snapshotter.save(); // incremental in single-instance mode; full here
    const s = await t.stored();
    expect(s.fence).not.toBeNull();
    expect(s.feed).toBe('100-0');
    expect(s.blobs.shards.size).toBe(a.filter.layout.params.shards);
    expect(a.landed).toEqual(['100-0', '100-0']);
    const decoded = decodeSnapshot(s.blobs, a.filter.layout);
    expect(decoded.ok && decoded.header.watermark).toBe(50);
  });

  it('skips the save while another instance holds the writer lock', async () => {
    const t = await setup();
    const other = await t.lock.acquire();
    expect(other).toBeDefined();
    const a = t.instance({ watermark: 7, feed: '1-0' });
    await a.snapshotter.save();
    expect((await t.stored()).blobs.header).toBeUndefined();
    expect(a.landed).toEqual([]);
  });

  it('a paused writer holding an older token never overwrites a newer snapshot', async () => {
    const t = await setup();
    const staleToken = await t.lock.acquire(); // taken, then the writer pauses past its lease
    await t.lock.release(staleToken!);
    const b = t.instance({ watermark: 900, feed: '900-0' });
    await b.snapshotter.save();
    const a = t.instance({ watermark: 10, feed: '10-0', acquire: async () => staleToken });
    await a.snapshotter.save();
    const s = await t.stored();
    expect(s.feed).toBe('900-0');
    const decoded = decodeSnapshot(s.blobs, b.filter.layout);
    expect(decoded.ok && decoded.header.watermark).toBe(900);
    expect(a.landed).toEqual([]); // nothing trimmed on behalf of a snapshot that did not land
  });
});
